//! Which server URLs are Amazon ECR registries, and what each one implies: account,
//! region, FIPS, dual-stack, or ECR Public. Pure string work: no I/O, no environment.
//!
//! The accepted set is exactly the reference helper's (awslabs/amazon-ecr-credential-helper
//! 0.12.0): a URL is reduced to its host the way Go's `url.Parse("https://" + input)` does,
//! and the host must match the private-registry pattern in full, case included, or be one
//! of the ECR Public names. Being a drop-in successor means refusing what it refuses too:
//! docker falls back to anonymous access for a host we refuse.

use thiserror::Error;

/// The host is not an ECR registry; docker then tries anonymous access.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{input:?} is not an Amazon ECR registry")]
pub struct NotEcr {
    pub input: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    host: String,
    pub service: Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Private(PrivateRegistry),
    /// ECR Public has one global registry, served by the API in us-east-1.
    Public,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRegistry {
    /// The 12-digit account that owns the registry; its token is the one we ask for.
    pub account: String,
    pub region: String,
    pub fips: bool,
    pub dual_stack: bool,
}

const PUBLIC_HOSTS: [&str; 2] = ["public.ecr.aws", "ecr-public.aws.com"];
const ECR_PUBLIC_API_REGION: &str = "us-east-1";

/// Domain suffixes of every partition that serves ECR, as the reference lists them.
const PARTITION_SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

impl Registry {
    pub fn parse(server_url: &str) -> Result<Registry, NotEcr> {
        let not_ecr = || NotEcr {
            input: server_url.to_owned(),
        };
        let host = url_host(server_url).ok_or_else(not_ecr)?;
        let service = if PUBLIC_HOSTS.contains(&host) {
            Service::Public
        } else {
            Service::Private(parse_private_host(host).ok_or_else(not_ecr)?)
        };
        Ok(Registry {
            host: host.to_owned(),
            service,
        })
    }

    /// The registry's host name, without scheme, port or path.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The account of a private registry; ECR Public has none.
    pub fn account(&self) -> Option<&str> {
        match &self.service {
            Service::Private(private) => Some(&private.account),
            Service::Public => None,
        }
    }

    /// The region whose API issues this registry's tokens: the hostname's, never the
    /// environment's.
    pub fn api_region(&self) -> &str {
        match &self.service {
            Service::Private(private) => &private.region,
            Service::Public => ECR_PUBLIC_API_REGION,
        }
    }
}

/// The host part of a server URL, as Go's `url.Parse("https://" + input).Hostname()`
/// finds it; `None` where that parse fails.
pub fn url_host(server_url: &str) -> Option<&str> {
    let rest = server_url.strip_prefix("https://").unwrap_or(server_url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        // An IPv6 literal is never an ECR name.
        return None;
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => Some(host),
        Some(_) => None,
        None => Some(host_port),
    }
}

/// Matches `^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.(<partition>)$`.
fn parse_private_host(host: &str) -> Option<PrivateRegistry> {
    let (account, rest) = host.split_at_checked(12)?;
    if !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (dual_stack, rest) = if let Some(rest) = rest.strip_prefix(".dkr.ecr") {
        (false, rest)
    } else {
        (true, rest.strip_prefix(".dkr-ecr")?)
    };
    let (fips, rest) = match rest.strip_prefix("-fips") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let (region, suffix) = rest.strip_prefix('.')?.split_once('.')?;
    let region_ok = region
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !region_ok || !PARTITION_SUFFIXES.contains(&suffix) {
        return None;
    }
    Some(PrivateRegistry {
        account: account.to_owned(),
        region: region.to_owned(),
        fips,
        dual_stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(account: &str, region: &str, fips: bool, dual_stack: bool) -> Service {
        Service::Private(PrivateRegistry {
            account: account.into(),
            region: region.into(),
            fips,
            dual_stack,
        })
    }

    #[test]
    fn accepts_every_partition_and_variant() {
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                private("123456789012", "us-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                private("123456789012", "cn-north-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                private("123456789012", "eusc-de-east-1", false, false),
            ),
            (
                "123456789012.dkr-ecr.us-west-2.on.aws",
                private("123456789012", "us-west-2", false, true),
            ),
            (
                "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                private("123456789012", "cn-northwest-1", false, true),
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                private("123456789012", "us-iso-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                private("123456789012", "us-isob-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                private("123456789012", "eu-isoe-west-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                private("123456789012", "us-isof-south-1", false, false),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                private("123456789012", "us-gov-west-1", true, false),
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-1.on.aws",
                private("123456789012", "us-east-1", true, true),
            ),
            ("public.ecr.aws", Service::Public),
            ("ecr-public.aws.com", Service::Public),
        ];
        for (host, expected) in cases {
            assert_eq!(
                Registry::parse(host).map(|r| r.service),
                Ok(expected),
                "{host}"
            );
        }
    }

    #[test]
    fn reduces_a_url_to_its_host_as_go_does() {
        for input in [
            "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
            "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/repo/manifests/latest",
            "https://user@123456789012.dkr.ecr.eu-west-1.amazonaws.com:443/x?y=1#z",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com?q",
        ] {
            let registry = Registry::parse(input).expect(input);
            assert_eq!(
                registry.host(),
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
            );
            assert_eq!(registry.api_region(), "eu-west-1");
        }
        assert_eq!(
            Registry::parse("https://public.ecr.aws/v2/")
                .unwrap()
                .api_region(),
            "us-east-1"
        );
    }

    #[test]
    fn refuses_lookalikes() {
        for input in [
            "",
            "docker.io",
            "https://index.docker.io/v1/",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
            "x123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.co",
            "123456789012.dkr.ecr..amazonaws.com",
            "123456789012.dkr.ecr.-us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us.east.1.amazonaws.com",
            "123456789012.dkr_ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr-FIPS.us-east-1.amazonaws.com",
            "123456789012.DKR.ECR.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:https",
            "http://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws.x",
            "x.public.ecr.aws",
            "PUBLIC.ECR.AWS",
            "[::1]:443",
        ] {
            assert!(Registry::parse(input).is_err(), "{input:?} must not be ECR");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// The reference's pattern (ecr-login/api/client.go), character for character
        /// except `\d`, which is ASCII in Go and spelled out here, and the class
        /// `[a-zA-Z0-9-_]`, whose `-` Go reads as a literal.
        const REFERENCE: &str = r"^([0-9]{12})\.dkr[\.\-]ecr(\-fips)?\.([a-zA-Z0-9][a-zA-Z0-9_\-]*)\.(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$";

        fn reference() -> regex_lite::Regex {
            regex_lite::Regex::new(REFERENCE).unwrap()
        }

        /// Hostnames near the pattern: each part valid, almost valid, or wrong, so that
        /// both sides of every branch get exercised (random strings almost never match).
        fn near_ecr_host() -> impl Strategy<Value = String> {
            // Weighted so that about one host in six matches.
            let account = prop_oneof![
                4 => "[0-9]{12}",
                1 => "[0-9]{11,13}",
                1 => "[0-9]{5}[a-f0-9]{7}",
                1 => "[0-9٠-٩]{12}",
            ];
            let service = prop_oneof![
                3 => Just(".dkr.ecr"),
                3 => Just(".dkr-ecr"),
                3 => Just(".dkr.ecr-fips"),
                3 => Just(".dkr-ecr-fips"),
                1 => Just(".dkr_ecr"),
                1 => Just(".dkr.ecr-FIPS"),
                1 => Just(".DKR.ECR"),
                1 => Just(".dkr.ecrfips"),
                1 => Just("dkr.ecr"),
            ];
            let region = prop_oneof![
                3 => "[a-z]{2}-[a-z]{4,9}-[0-9]",
                1 => "[a-zA-Z0-9_-]{0,12}",
                1 => "[a-zA-Z0-9_.-]{0,12}",
                1 => "[-_][a-z0-9]{1,5}",
            ];
            let suffix = prop_oneof![
                3 => prop::sample::select(PARTITION_SUFFIXES.to_vec()).prop_map(str::to_owned),
                1 => "(amazonaws\\.(com|co|cn|eu|com\\.cn\\.evil)|on\\.aws\\.?|evil\\.example|aws)",
            ];
            (account, service, region, suffix).prop_map(|(a, s, r, x)| format!("{a}{s}.{r}.{x}"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            #[test]
            fn agrees_with_the_reference_pattern(host in near_ecr_host()) {
                let reference = reference();
                let ours = Registry::parse(&host);
                prop_assert_eq!(ours.is_ok(), reference.is_match(&host), "{}", host);
                if let (Ok(registry), Some(caps)) = (ours, reference.captures(&host)) {
                    let Service::Private(private) = registry.service else {
                        panic!("{host} is private");
                    };
                    prop_assert_eq!(&private.account, &caps[1]);
                    prop_assert_eq!(private.fips, caps.get(2).is_some());
                    prop_assert_eq!(&private.region, &caps[3]);
                    prop_assert_eq!(private.dual_stack, host[12..].starts_with(".dkr-"));
                }
            }

            #[test]
            fn agrees_with_the_reference_pattern_on_any_hostname(host in "[a-zA-Z0-9._-]{0,80}") {
                let expected = reference().is_match(&host) || PUBLIC_HOSTS.contains(&host.as_str());
                prop_assert_eq!(Registry::parse(&host).is_ok(), expected, "{}", host);
            }

            #[test]
            fn a_url_reduces_to_its_host(
                account in "[0-9]{12}",
                region in "[a-z]{2}-[a-z]{4,9}-[0-9]",
                suffix in prop::sample::select(PARTITION_SUFFIXES.to_vec()),
                dual_stack: bool,
                fips: bool,
                scheme in prop_oneof![Just(""), Just("https://")],
                userinfo in prop_oneof![Just(String::new()), "[a-z]{1,8}(:[a-z0-9]{1,8})?@"],
                port in prop_oneof![Just(String::new()), "[0-9]{1,5}".prop_map(|p| format!(":{p}"))],
                rest in prop_oneof![Just(String::new()), "[/?#][ -~]{0,30}"],
            ) {
                let host = format!(
                    "{account}.dkr{}ecr{}.{region}.{suffix}",
                    if dual_stack { "-" } else { "." },
                    if fips { "-fips" } else { "" }
                );
                let url = format!("{scheme}{userinfo}{host}{port}{rest}");
                let registry = Registry::parse(&url).unwrap();
                prop_assert_eq!(registry.host(), host.as_str());
                prop_assert_eq!(
                    registry.service,
                    Service::Private(PrivateRegistry { account, region, fips, dual_stack })
                );
            }

            #[test]
            fn never_panics(input in any::<String>()) {
                let _ = Registry::parse(&input);
            }
        }
    }
}
