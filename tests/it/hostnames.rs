//! Which hosts are ECR: refused ones cost nothing and answer docker's not-found line.

use crate::support::*;

const LOOKALIKES: [&str; 10] = [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    "https://123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/v2/",
    "12345678901.dkr.ecr.us-east-1.amazonaws.com",
    "public.ecr.aws.x",
    "x.public.ecr.aws",
    "docker.io",
    "https://index.docker.io/v1/",
    "ghcr.io",
    "localhost:5000",
    "evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
];

#[test]
fn lookalike_hosts_get_not_found_and_make_no_call() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    for host in LOOKALIKES {
        let run = env.get(host);
        run.failure();
        assert_eq!(
            run.stdout(),
            format!("{NOT_FOUND}\n"),
            "{host}{}",
            run.explain()
        );
        assert_eq!(run.stderr(), "", "{host}");
    }
    assert!(front.calls().is_empty(), "{:?}", front.calls());
    assert!(
        !env.cache_dir().exists() || std::fs::read_dir(env.cache_dir()).unwrap().next().is_none()
    );
}

#[test]
fn every_partition_is_ecr_and_keeps_its_region() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let hosts = [
        (
            "333333333333.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "cn-north-1",
        ),
        ("333333333333.dkr-ecr.us-west-2.on.aws", "us-west-2"),
        (
            "333333333333.dkr.ecr.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
        ),
        (
            "333333333333.dkr.ecr.eusc-de-east-1.amazonaws.eu",
            "eusc-de-east-1",
        ),
    ];
    for (host, region) in hosts {
        front.reset();
        assert_eq!(
            secret_of(&env.get(host)),
            password_for("333333333333"),
            "{host}"
        );
        let calls = front.calls_to("ecr");
        assert_eq!(calls.len(), 1, "{host}: {calls:?}");
        assert_eq!(calls[0].region.as_deref(), Some(region), "{host}");
    }
}
