# Homebrew formula for docker-credential-ecr, built from the crate that `cargo publish`
# puts on crates.io. scripts/release.sh writes the copy for a release (dist/) with that
# crate's version and sha256; this one is the template it starts from.
class DockerCredentialEcr < Formula
  desc "Docker credential helper for Amazon ECR: cached, single-flight, clear errors"
  homepage "https://github.com/docker-credential-ecr/docker-credential-ecr"
  url "https://static.crates.io/crates/docker-credential-ecr/docker-credential-ecr-0.1.0.crate"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"
  head "https://github.com/docker-credential-ecr/docker-credential-ecr.git", branch: "main"

  depends_on "help2man" => :build
  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    # The man page is the binary's own help, as in the Debian and RPM packages.
    system "help2man", "--no-info", "--name", "Docker credential helper for Amazon ECR",
           "--output", "docker-credential-ecr.1", bin/"docker-credential-ecr"
    man1.install "docker-credential-ecr.1"
  end

  def caveats
    <<~EOS
      Name the helper per registry in ~/.docker/config.json:
        "credHelpers": { "123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr" }
      To answer where "ecr-login" is configured, without the reference helper installed:
        ln -s #{opt_bin}/docker-credential-ecr #{HOMEBREW_PREFIX}/bin/docker-credential-ecr-login
    EOS
  end

  test do
    assert_match "docker-credential-ecr #{version}", shell_output("#{bin}/docker-credential-ecr version")
    # Not an ECR host: docker's own not-found answer, exit 1, and no network call.
    assert_equal "credentials not found in native keychain\n",
                 pipe_output("#{bin}/docker-credential-ecr get", "docker.io\n", 1)
  end
end
