//! Where tokens come from on a cache miss: GetAuthorizationToken through the AWS SDK,
//! for ECR and ECR Public alike. This is the only module that builds an async runtime,
//! an HTTP client or SDK configuration, and it does so only when called, so a cache hit
//! pays for none of it. Failures become [`FetchError`] variants named after what the
//! user has to fix, never a bare "credentials not found".

use crate::config::{
    AWS_CA_BUNDLE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC,
    AWS_ENDPOINT_URL_STS, Config, HTTPS_PROXY, NO_PROXY, expand_home,
};
use crate::credential_source::CredentialSource;
use crate::env::Env;
use crate::registry::{Registry, Service};
use crate::secret::Secret;
use aws_config::BehaviorVersion;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{
    Builder as HttpClientBuilder, Connector, ConnectorBuilder, proxy::ProxyConfig,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use thiserror::Error;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What GetAuthorizationToken returned for one registry.
#[derive(Debug, Clone)]
pub struct Token {
    /// base64 of `user:password`, as ECR hands it out.
    pub authorization_token: Secret<String>,
    pub proxy_endpoint: String,
    /// `None` when the response had no expiry: usable now, but not worth caching.
    pub expires_at: Option<SystemTime>,
}

/// The seam between the get path and AWS: tests of the cache logic use a fake.
pub trait TokenSource {
    fn fetch(&self, registry: &Registry, source: &CredentialSource) -> Result<Token, FetchError>;
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("no AWS credentials found ({source_tried})")]
    NoCredentials { source_tried: String },
    #[error("the AWS SSO session of profile `{profile}` has expired or was never started")]
    SsoSessionExpired { profile: String, detail: String },
    #[error("AWS credentials from {source_used} could not be loaded: {detail}")]
    CredentialsUnavailable { source_used: String, detail: String },
    #[error("the AWS credentials from {source_used} were rejected by ECR ({code}): {message}")]
    CredentialsRejected {
        source_used: String,
        code: String,
        message: String,
    },
    #[error("access denied: {message}")]
    AccessDenied { message: String },
    #[error("ECR throttled the request in {region} (ThrottlingException) even after retries")]
    Throttled { region: String },
    #[error("ECR is unreachable at {endpoint}")]
    Unreachable {
        endpoint: String,
        #[source]
        source: BoxError,
    },
    #[error("ECR at {endpoint} did not answer within {after:?}")]
    TimedOut { endpoint: String, after: Duration },
    #[error("ECR answered {code}: {message}")]
    Service { code: String, message: String },
    #[error("the AWS config files do not parse: {detail}")]
    ProfileSyntax { detail: String },
    #[error("the AWS SDK configuration is invalid: {detail}")]
    Configuration { detail: String },
    #[error("ECR sent an answer we cannot use: {detail}")]
    InvalidResponse { detail: String },
    #[error("cannot read the CA bundle {path} (AWS_CA_BUNDLE)")]
    CaBundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the HTTP client")]
    Runtime(#[source] std::io::Error),
}

/// The real source: the AWS SDK with the whole default credential chain.
pub struct AwsTokenSource<'a> {
    pub env: &'a dyn Env,
    pub config: &'a Config,
}

/// A connection that takes longer than this is not going to work; fail over to a
/// retry while the operation still has time left.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One slow attempt must leave room for a retry inside the whole-operation timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

impl TokenSource for AwsTokenSource<'_> {
    fn fetch(&self, registry: &Registry, source: &CredentialSource) -> Result<Token, FetchError> {
        self.block_on(async {
            let sdk_config = self.sdk_config(registry.api_region(), source).await?;
            match &registry.service {
                Service::Private(private) => {
                    // An endpoint override names the exact endpoint; the SDK refuses to
                    // combine it with FIPS or dual-stack resolution.
                    let resolve_variant = !self.endpoint_overridden(registry);
                    let ecr_config = aws_sdk_ecr::config::Builder::from(&sdk_config)
                        .use_fips(private.fips && resolve_variant)
                        .use_dual_stack(private.dual_stack && resolve_variant)
                        .build();
                    // Deprecated in the API because a token is not scoped to one registry,
                    // but the reference asks for the registry's own account, and so do we:
                    // cross-account setups expect the token of the account they push to.
                    #[allow(deprecated)]
                    let request = aws_sdk_ecr::Client::from_conf(ecr_config)
                        .get_authorization_token()
                        .registry_ids(&private.account);
                    let output = request.send().await.map_err(|err| {
                        self.classify(err, self.endpoint(registry), registry.api_region(), source)
                    })?;
                    let data = output.authorization_data().first().ok_or_else(|| {
                        FetchError::InvalidResponse {
                            detail: "no authorizationData".into(),
                        }
                    })?;
                    token_from(
                        data.authorization_token(),
                        data.proxy_endpoint().map(str::to_owned),
                        data.expires_at(),
                        registry,
                    )
                }
                Service::Public => {
                    let output = aws_sdk_ecrpublic::Client::new(&sdk_config)
                        .get_authorization_token()
                        .send()
                        .await
                        .map_err(|err| {
                            self.classify(
                                err,
                                self.endpoint(registry),
                                registry.api_region(),
                                source,
                            )
                        })?;
                    let data =
                        output
                            .authorization_data()
                            .ok_or_else(|| FetchError::InvalidResponse {
                                detail: "no authorizationData".into(),
                            })?;
                    token_from(
                        data.authorization_token(),
                        None,
                        data.expires_at(),
                        registry,
                    )
                }
            }
        })
        .map_err(|err| self.with_profile_syntax(err))
    }
}

/// Who the credentials belong to, from STS GetCallerIdentity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// The AWS calls beyond tokens: `configure`, `login-password` and `doctor` use them.
pub trait IdentitySource {
    /// STS GetCallerIdentity with the credentials `source` names, in `region` (when the
    /// caller has already looked it up) or else the default region.
    fn caller_identity(
        &self,
        source: &CredentialSource,
        region: Option<&str>,
    ) -> Result<Identity, FetchError>;
    /// The region the SDK would use by default (AWS_REGION, the profile's `region`).
    fn default_region(&self) -> Option<String>;
    /// `GET https://HOST/v2/` with basic auth: the HTTP status, or why there was none.
    fn probe_registry(
        &self,
        host: &str,
        username: &str,
        password: &Secret<String>,
    ) -> Result<u16, String>;
}

/// Where an identity is asked for when no region is configured: STS answers for every
/// account there.
const FALLBACK_STS_REGION: &str = "us-east-1";

impl IdentitySource for AwsTokenSource<'_> {
    fn caller_identity(
        &self,
        source: &CredentialSource,
        region: Option<&str>,
    ) -> Result<Identity, FetchError> {
        let region = region
            .map(str::to_owned)
            .or_else(|| self.default_region())
            .unwrap_or_else(|| FALLBACK_STS_REGION.to_owned());
        self.block_on(async {
            let sdk_config = self.sdk_config(&region, source).await?;
            let output = aws_sdk_sts::Client::new(&sdk_config)
                .get_caller_identity()
                .send()
                .await
                .map_err(|err| {
                    let endpoint = self
                        .env
                        .var(AWS_ENDPOINT_URL_STS)
                        .or_else(|| self.env.var(AWS_ENDPOINT_URL))
                        .unwrap_or_else(|| format!("STS in {region}"));
                    self.classify(err, endpoint, &region, source)
                })?;
            match (output.account(), output.arn()) {
                (Some(account), Some(arn)) => Ok(Identity {
                    account: account.to_owned(),
                    arn: arn.to_owned(),
                }),
                _ => Err(FetchError::InvalidResponse {
                    detail: "GetCallerIdentity named no account".into(),
                }),
            }
        })
        .map_err(|err| self.with_profile_syntax(err))
    }

    fn default_region(&self) -> Option<String> {
        let http_client = self.http_client().ok()?;
        // The loader's own region chain (environment, profile, instance metadata), on our
        // HTTP client.
        self.block_on(async {
            Ok(aws_config::defaults(BehaviorVersion::latest())
                .http_client(http_client)
                .load()
                .await
                .region()
                .map(|r| r.to_string()))
        })
        .ok()
        .flatten()
    }

    fn probe_registry(
        &self,
        host: &str,
        username: &str,
        password: &Secret<String>,
    ) -> Result<u16, String> {
        use aws_smithy_runtime_api::client::http::HttpConnector;
        use base64::Engine;
        let (tls_context, proxy) = self.connection_settings().map_err(|e| error_chain(&e))?;
        let mut request = HttpRequest::new(aws_smithy_types::body::SdkBody::empty());
        request
            .set_uri(format!("https://{host}/v2/"))
            .map_err(|e| error_chain(&e))?;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", password.expose()));
        request
            .headers_mut()
            .insert("authorization", format!("Basic {basic}"));
        let timeout = self.config.timeout;
        let call = async move {
            let connector = connector(&tls_context, &proxy, Connector::builder());
            match tokio::time::timeout(timeout, connector.call(request)).await {
                Ok(Ok(response)) => Ok(response.status().as_u16()),
                Ok(Err(err)) => Err(root_cause(&err)),
                Err(_) => Err(format!("no answer within {timeout:?}")),
            }
        };
        self.block_on(async { Ok(call.await) })
            .map_err(|e| error_chain(&e))?
    }
}

/// The session name of a role assumed for the settings file, unless it names one: it
/// shows in CloudTrail, so it says who asked.
const ROLE_SESSION_NAME: &str = "docker-credential-ecr";

impl AwsTokenSource<'_> {
    /// A current-thread runtime for one call: built only on a miss, dropped after it.
    fn block_on<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(FetchError::Runtime)?
            .block_on(work)
    }

    /// A credentials failure caused by a syntax error in the AWS files becomes that error,
    /// with its file and line; any other error is returned as it is.
    fn with_profile_syntax(&self, err: FetchError) -> FetchError {
        match err {
            FetchError::NoCredentials { .. }
            | FetchError::SsoSessionExpired { .. }
            | FetchError::CredentialsUnavailable { .. } => self
                .block_on(async { Ok(profile_syntax_error().await) })
                .ok()
                .flatten()
                .unwrap_or(err),
            other => other,
        }
    }

    /// SDK configuration for calls in `region` with the credentials `source` names: the
    /// default chain, or the settings file's profile, with its role assumed on top.
    async fn sdk_config(
        &self,
        region: &str,
        source: &CredentialSource,
    ) -> Result<aws_config::SdkConfig, FetchError> {
        let http_client = self.http_client()?;
        let region = aws_config::Region::new(region.to_owned());
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(self.config.timeout))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT.min(self.config.timeout))
            .operation_timeout(self.config.timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .http_client(http_client.clone())
            .retry_config(RetryConfig::standard())
            .timeout_config(timeouts.clone());
        if let Some(profile) = &source.route.profile {
            // The default chain would put environment keys first; a profile chosen for
            // this registry is the more specific choice.
            let provider_config = ProviderConfig::without_region()
                .with_region(Some(region))
                .with_http_client(http_client)
                .with_retry_config(RetryConfig::standard())
                .with_timeout_config(timeouts);
            loader = loader.profile_name(profile).credentials_provider(
                ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(profile)
                    .build(),
            );
        }
        let sdk_config = loader.load().await;
        let Some(role) = &source.route.role else {
            return Ok(sdk_config);
        };
        let base = sdk_config
            .credentials_provider()
            .ok_or_else(|| FetchError::NoCredentials {
                source_tried: source.to_string(),
            })?;
        let mut builder = AssumeRoleProvider::builder(&role.role_arn)
            .session_name(role.session_name.as_deref().unwrap_or(ROLE_SESSION_NAME))
            .configure(&sdk_config);
        if let Some(external_id) = &role.external_id {
            builder = builder.external_id(external_id);
        }
        let assumed = builder.build_from_provider(base).await;
        Ok(sdk_config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(assumed))
            .build())
    }
}

/// Our one HTTPS connector: rustls with ring, our trust store, the proxy settings.
fn connector(
    tls_context: &TlsContext,
    proxy: &ProxyConfig,
    builder: ConnectorBuilder,
) -> Connector {
    builder
        .proxy_config(proxy.clone())
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context.clone())
        .build()
}

/// The SDK's client panics on a certificate it cannot parse; a bad bundle must be one
/// clear line instead. Every certificate in it has to be usable as a trust anchor.
fn check_ca_bundle(pem: &[u8]) -> std::io::Result<()> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let invalid = |detail: String| std::io::Error::new(std::io::ErrorKind::InvalidData, detail);
    let mut count = 0;
    for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|err| invalid(format!("certificate {}: {err}", index + 1)))?;
        webpki::anchor_from_trusted_cert(&cert)
            .map_err(|err| invalid(format!("certificate {}: {err}", index + 1)))?;
        count += 1;
    }
    if count == 0 {
        return Err(invalid("it holds no PEM certificate".into()));
    }
    Ok(())
}

/// The SDK reports a syntax error in the AWS config or credentials file as "could not
/// parse profile file", without the file or the line; its own parser, run again on the
/// same files, still has both. Only called once credentials have failed.
async fn profile_syntax_error() -> Option<FetchError> {
    // The SDK's handles on the process environment and files, because this must find
    // exactly the files the SDK just read.
    let loaded = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        // The default files: ~/.aws/config and ~/.aws/credentials, or the variables' paths.
        &Default::default(),
        None,
    )
    .await;
    let err = loaded.err()?;
    let parse = find_in_chain::<aws_config::profile::ProfileParseError>(&err)?;
    Some(FetchError::ProfileSyntax {
        detail: parse.to_string(),
    })
}

fn token_from(
    authorization_token: Option<&str>,
    proxy_endpoint: Option<String>,
    expires_at: Option<&aws_smithy_types::DateTime>,
    registry: &Registry,
) -> Result<Token, FetchError> {
    let authorization_token = authorization_token.ok_or_else(|| FetchError::InvalidResponse {
        detail: "no authorizationToken".into(),
    })?;
    Ok(Token {
        authorization_token: Secret::new(authorization_token.to_owned()),
        proxy_endpoint: proxy_endpoint.unwrap_or_else(|| format!("https://{}", registry.host())),
        expires_at: expires_at.and_then(|t| SystemTime::try_from(*t).ok()),
    })
}

impl AwsTokenSource<'_> {
    /// rustls with ring (no aws-lc start-up cost), the system roots plus AWS_CA_BUNDLE,
    /// and HTTPS_PROXY/NO_PROXY: the SDK's own default client honours neither variable.
    fn http_client(&self) -> Result<SharedHttpClient, FetchError> {
        let (tls_context, proxy) = self.connection_settings()?;
        Ok(
            HttpClientBuilder::new().build_with_connector_fn(move |settings, components| {
                let mut builder = Connector::builder();
                builder.set_connector_settings(settings.cloned());
                builder.set_sleep_impl(components.and_then(|c| c.sleep_impl()));
                connector(&tls_context, &proxy, builder)
            }),
        )
    }

    fn connection_settings(&self) -> Result<(TlsContext, ProxyConfig), FetchError> {
        let tls_context = TlsContext::builder()
            .with_trust_store(self.trust_store()?)
            .build()
            .map_err(|err| FetchError::Runtime(std::io::Error::other(err)))?;
        Ok((tls_context, self.proxy_config()))
    }

    /// As in the AWS CLI and SDKs, a bundle named by AWS_CA_BUNDLE is the whole trust
    /// store, not an addition to the system roots. That also spares a cold get the parsing
    /// of every system root (the bundle file and then each certificate file again), which
    /// was most of its CPU time.
    fn trust_store(&self) -> Result<TrustStore, FetchError> {
        let Some(path) = self.env.var(AWS_CA_BUNDLE) else {
            return Ok(TrustStore::default());
        };
        let path = expand_home(&path, self.env);
        match std::fs::read(&path).and_then(|pem| check_ca_bundle(&pem).map(|()| pem)) {
            Ok(pem) => Ok(TrustStore::empty().with_pem_certificate(pem)),
            Err(source) => Err(FetchError::CaBundle { path, source }),
        }
    }

    fn proxy_config(&self) -> ProxyConfig {
        let proxy_url = self
            .env
            .var(HTTPS_PROXY)
            .or_else(|| self.env.var(&HTTPS_PROXY.to_ascii_lowercase()));
        let no_proxy = self
            .env
            .var(NO_PROXY)
            .or_else(|| self.env.var(&NO_PROXY.to_ascii_lowercase()));
        match proxy_url.map(|url| ProxyConfig::https(url.as_str())) {
            Some(Ok(config)) => match no_proxy {
                Some(rules) => config.no_proxy(rules),
                None => config,
            },
            _ => ProxyConfig::disabled(),
        }
    }

    fn endpoint_override(&self, registry: &Registry) -> Option<String> {
        let service_var = match registry.service {
            Service::Private(_) => AWS_ENDPOINT_URL_ECR,
            Service::Public => AWS_ENDPOINT_URL_ECR_PUBLIC,
        };
        self.env
            .var(service_var)
            .or_else(|| self.env.var(AWS_ENDPOINT_URL))
    }

    fn endpoint_overridden(&self, registry: &Registry) -> bool {
        self.endpoint_override(registry).is_some()
    }

    fn endpoint(&self, registry: &Registry) -> String {
        self.endpoint_override(registry)
            .unwrap_or_else(|| format!("the ECR API in {}", registry.api_region()))
    }

    fn classify<E>(
        &self,
        err: SdkError<E, HttpResponse>,
        endpoint: String,
        region: &str,
        source: &CredentialSource,
    ) -> FetchError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(context) = &err {
            // No error code means the body was no AWS answer at all (JSON cut short, a
            // proxy's HTML page): say so, rather than "UnknownError" with no message.
            let Some(code) = context.err().code() else {
                return FetchError::InvalidResponse {
                    detail: format!(
                        "HTTP {} with a body that is not an ECR response: {}",
                        context.raw().status().as_u16(),
                        error_chain(&err)
                    ),
                };
            };
            let message = context.err().message().unwrap_or_default().to_owned();
            return service_error(code.to_owned(), message, region, source);
        }
        if let SdkError::TimeoutError(_) = err {
            return FetchError::TimedOut {
                endpoint,
                after: self.config.timeout,
            };
        }
        if let Some(credentials) = find_in_chain::<CredentialsError>(&err) {
            return credentials_error(credentials, source, &endpoint, self.config.timeout);
        }
        match err {
            SdkError::ResponseError(_) => FetchError::InvalidResponse {
                detail: error_chain(&err),
            },
            SdkError::ConstructionFailure(_) => FetchError::Configuration {
                detail: error_chain(&err),
            },
            other => {
                let text = error_chain(&other);
                if text.contains("timed out") || text.contains("timeout") {
                    FetchError::TimedOut {
                        endpoint,
                        after: self.config.timeout,
                    }
                } else {
                    FetchError::Unreachable {
                        endpoint,
                        source: Box::new(other),
                    }
                }
            }
        }
    }
}

fn service_error(
    code: String,
    message: String,
    region: &str,
    source: &CredentialSource,
) -> FetchError {
    match code.as_str() {
        "AccessDeniedException" | "AccessDenied" => FetchError::AccessDenied { message },
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
            FetchError::Throttled {
                region: region.to_owned(),
            }
        }
        "ExpiredTokenException"
        | "ExpiredToken"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch" => FetchError::CredentialsRejected {
            source_used: source.to_string(),
            code,
            message,
        },
        _ => FetchError::Service { code, message },
    }
}

fn credentials_error(
    err: &CredentialsError,
    source: &CredentialSource,
    endpoint: &str,
    timeout: Duration,
) -> FetchError {
    let detail = error_chain(err);
    if let Some(profile) = source.sso_profile() {
        return FetchError::SsoSessionExpired {
            profile: profile.to_owned(),
            detail,
        };
    }
    match err {
        CredentialsError::CredentialsNotLoaded(_) => FetchError::NoCredentials {
            source_tried: source.to_string(),
        },
        CredentialsError::ProviderTimedOut(_) => FetchError::TimedOut {
            endpoint: format!("the credential provider ({source}) before {endpoint}"),
            after: timeout,
        },
        _ => FetchError::CredentialsUnavailable {
            source_used: source.to_string(),
            detail,
        },
    }
}

fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The innermost message: for a network failure, the one that names the actual problem
/// ("Connection refused") rather than the layers it passed through.
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Every message in the chain, innermost last, for the one-line report.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let text = err.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}
