#!/usr/bin/env python3
"""Test lab for the docker-credential-ecr end-to-end tests.

One process hosting: a fake AWS API (moto), programmable HTTP(S) "fronts"
that relay to it and inject faults, and real `docker-registry` children.

    python3 tests/support/lab.py --dir DIR

prints one JSON line {"control", "ca", "moto"} on stdout, then lives until
stdin reaches EOF or it gets SIGTERM/SIGINT/SIGHUP, and takes its children
with it. Control API (JSON in and out, plain HTTP; see ROUTES):

    GET    /health                   200 "ok" (text/plain)
    POST   /fronts                   {tls, bind, port, cert_names} -> {id, url, ...}
    GET    /fronts                   every front
    DELETE /fronts/ID                stop listening (frees e.g. port 443)
    GET    /fronts/ID/calls          calls in arrival order
    POST   /fronts/ID/reset          forget calls, clear faults
    GET    /fronts/ID/faults         current fault settings
    POST   /fronts/ID/faults         {kind, times, latency_ms, expires_in,
                                      service, operation}
    GET    /registries               every registry
    POST   /registries               {host, bind, port, password} -> {host, url, ...}
    DELETE /registries/HOST          stop it (its storage stays)
    GET    /container-credentials    ECS-style credentials JSON (for
                                     AWS_CONTAINER_CREDENTIALS_FULL_URI)
    GET    /container-credentials/served   {served: how many were handed out}

Fault kinds: the AWS errors in FAULT_ERRORS (throttle, http500, http503,
access_denied, expired_token, invalid_credentials); malformed_json (a 200
whose JSON stops mid-document); not_json (a 200 HTML page); partial_body (the
real answer's Content-Length, half its bytes, then the connection is cut);
no_expires_at; hang (read the request, never answer); close (hang up unanswered).
"""

import argparse
import base64
import concurrent.futures
import ctypes
import datetime
import http.client
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PUBLIC_PASSWORD = "public-auth-token"
DEFAULT_EXPIRES_IN = 43200.0
HANG_SECONDS = 120.0
REGISTRY_DEADLINE = 20.0
JSON_11 = "application/x-amz-json-1.1"
STS_VERSION = "2011-06-15"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "content-length",
}
CREDENTIAL_RE = re.compile(
    r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")

# kind -> (status, __type, message); every other kind is handled in code.
FAULT_ERRORS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "http500": (500, "InternalServerError", "internal error"),
    "http503": (503, "ServiceUnavailableException", "Service Unavailable"),
    "access_denied": (
        400, "AccessDeniedException",
        "User: arn:aws:iam::111111111111:user/ci-bot is not authorized to "
        "perform: ecr:GetAuthorizationToken on resource: * because no "
        "identity-based policy allows the ecr:GetAuthorizationToken action"),
    "expired_token": (
        400, "ExpiredTokenException",
        "The security token included in the request is expired"),
    "invalid_credentials": (
        400, "UnrecognizedClientException",
        "The security token included in the request is invalid."),
}
FAULT_KINDS = {"none", "malformed_json", "not_json", "partial_body", "no_expires_at",
               "hang", "close", *FAULT_ERRORS}
# A whole answer that stops mid-document.
MALFORMED_JSON = b'{"authorizationData": [{"authorizationToken": '
# What a captive portal or a misrouted proxy answers with a 200.
NOT_JSON = b"<html><body>Please log in to the guest network</body></html>"

log = logging.getLogger("lab")


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def loopback(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ApiError(400, f"bind {address!r} is not an IP address") from None
    if ip.version != 4 or not ip.is_loopback:
        raise ApiError(400, f"bind {address} is not in 127.0.0.0/8")
    return str(ip)


def reserve_port(bind, port):
    """Picks a free port (port 0) or checks that `port` is free; raises if not.

    A registry that fails to listen would otherwise go unnoticed whenever
    another server already answers on that address.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go does
        try:
            s.bind((bind, port))
        except OSError as e:
            raise ApiError(500, f"cannot listen on {bind}:{port}: {e}") from None
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Certificates

def key_usage(**enabled):
    flags = ["digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{flag: enabled.get(flag, False) for flag in flags})


class CertificateAuthority:
    def __init__(self, path):
        self.path = path
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "docker-credential-ecr test CA")])
        self.cert = (
            self._builder(self.name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(key_usage(digital_signature=True, key_cert_sign=True,
                                     crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        with open(path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject, public_key):
        # Backdated so that clock skew between us and the clients never matters.
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(self.name)
                .public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)))

    def issue(self, directory, names):
        """Writes cert.pem/key.pem for `names` (DNS names or IPs) into directory."""
        sans, seen = [], set()
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            self._builder(subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        os.makedirs(directory, exist_ok=True)
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return cert_path, key_path


# --------------------------------------------------------------------------
# Fronts

def identify(method, path, headers, body):
    """Returns (call record, whether the call uses the query protocol)."""
    service = region = access_key = operation = registry_ids = None
    m = CREDENTIAL_RE.search(headers.get("Authorization", ""))
    if m:
        access_key, region, service = m.groups()

    target = headers.get("X-Amz-Target", "")
    form = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif "Action" in form:
        operation = form["Action"][0]

    # Unsigned calls (AssumeRoleWithWebIdentity, the SSO portal) still need a name.
    if service is None:
        if urllib.parse.urlsplit(path).path == SSO_ROLE_CREDENTIALS_PATH:
            service, operation = "sso", "GetRoleCredentials"
        elif target.startswith("SpencerFrontendService"):
            service = "ecr-public"
        elif target.startswith("AmazonEC2ContainerRegistry"):
            service = "ecr"
        elif form.get("Version") == [STS_VERSION]:
            service = "sts"

    if body[:1] == b"{":
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and "registryIds" in doc:
                registry_ids = doc["registryIds"]
        except ValueError:
            pass

    call = {"service": service, "region": region, "operation": operation,
            "host": headers.get("Host"), "access_key_id": access_key,
            "registry_ids": registry_ids, "at": time.time(),
            "method": method, "path": path}
    return call, "Action" in form


def aws_error(status, error_type, message, query_protocol=False):
    headers = [("x-amzn-ErrorType", error_type)]
    if query_protocol:
        # STS speaks XML; a JSON error would only exercise the SDK's
        # "unparseable response" path instead of the error being injected.
        body = ("<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{error_type}</Code><Message>{escape(message)}</Message></Error>"
                "<RequestId>lab</RequestId></ErrorResponse>").encode()
        headers.append(("Content-Type", "text/xml"))
    else:
        body = json.dumps({"__type": error_type, "message": message}).encode()
        headers.append(("Content-Type", JSON_11))
    return status, headers, body


class Front:
    def __init__(self, lab, fid, bind, port, tls_context):
        self.lab = lab
        self.id = fid
        self.tls = tls_context is not None
        self.lock = threading.Lock()
        self.calls = []
        self.closed = False
        self.release = threading.Event()  # wakes "hang" calls up early
        self.clear_faults()
        self.server = FrontServer((bind, port), FrontHandler, tls_context)
        self.server.front = self
        self.bind, self.port = self.server.server_address[:2]
        self.url = f"{'https' if self.tls else 'http'}://{self.bind}:{self.port}"
        threading.Thread(target=self.server.serve_forever, name=f"front-{fid}",
                         daemon=True).start()

    def clear_faults(self):
        self.kind, self.times = "none", None
        self.match_service = self.match_operation = None
        self.latency_ms, self.expires_in = 0.0, DEFAULT_EXPIRES_IN

    def faults(self):
        return {"kind": self.kind, "times": self.times, "latency_ms": self.latency_ms,
                "expires_in": self.expires_in, "service": self.match_service,
                "operation": self.match_operation}

    def set_faults(self, spec):
        with self.lock:
            if "kind" in spec:
                kind = spec["kind"] or "none"
                if kind not in FAULT_KINDS:
                    raise ApiError(400, f"unknown fault kind {kind!r}")
                times = spec.get("times")
                if times is not None and int(times) <= 0:
                    kind, times = "none", None
                self.kind, self.times = kind, None if times is None else int(times)
                self.match_service = spec.get("service")
                self.match_operation = spec.get("operation")
            if spec.get("latency_ms") is not None:
                self.latency_ms = float(spec["latency_ms"])
            if spec.get("expires_in") is not None:
                self.expires_in = float(spec["expires_in"])
            return self.faults()

    def reset(self):
        with self.lock:
            self.calls.clear()
            self.clear_faults()
            self.release.set()
            self.release = threading.Event()

    def admit(self, call):
        """Records the call and decides, atomically, which fault it gets."""
        with self.lock:
            fault = None
            if (self.kind != "none"
                    and self.match_service in (None, call["service"])
                    and self.match_operation in (None, call["operation"])):
                fault = self.kind
                if self.times is not None:
                    self.times -= 1
                    if self.times <= 0:
                        self.kind, self.times = "none", None
            call["fault"] = fault
            self.calls.append(call)
            return fault, self.latency_ms / 1000.0, self.expires_in, self.release

    def snapshot(self):
        with self.lock:
            return list(self.calls)

    def close(self):
        self.closed = True
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when tests fire dozens of
    # concurrent connections, which turns into 1 s retransmit stalls.
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup we neither need
        # nor want to wait for.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FrontServer(LabHTTPServer):
    def __init__(self, address, handler, tls_context):
        self.tls_context = tls_context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the per-connection thread, so a
        # slow or broken client cannot stall the accept loop.
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            conn = self.tls_context.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except OSError as e:
            log.debug("TLS handshake from %s failed: %s", client_address, e)
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        log.debug("connection from %s failed", client_address, exc_info=True)


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the SDKs keep connections alive
    # The headers and the body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK of the headers, and every call costs 40 ms more than the
    # API took.
    disable_nagle_algorithm = True

    def do_any(self):
        front = self.server.front
        body = read_body(self)
        if front.closed:
            return self.drop()
        call, query_protocol = identify(self.command, self.path, self.headers, body)
        fault, latency, expires_in, release = front.admit(call)
        log.info("%s %s/%s %s fault=%s", front.id, call["service"], call["region"],
                 call["operation"], fault)
        if fault == "hang":
            release.wait(HANG_SECONDS)
            return self.drop()
        if latency > 0:
            time.sleep(latency)
        if fault == "close":
            return self.drop()
        status, headers, payload = self.answer(call, query_protocol, body, fault, expires_in)
        if fault == "partial_body":
            # Announce the whole answer, send half of it, hang up: a connection cut mid-body.
            return self.reply(status, headers, payload, cut_at=len(payload) // 2)
        self.reply(status, headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_any

    def answer(self, call, query_protocol, body, fault, expires_in):
        if fault in FAULT_ERRORS:
            return aws_error(*FAULT_ERRORS[fault], query_protocol)
        if fault == "malformed_json":
            return 200, [("Content-Type", JSON_11)], MALFORMED_JSON
        if fault == "not_json":
            return 200, [("Content-Type", "text/html")], NOT_JSON
        expires_at = None if fault == "no_expires_at" else round(time.time() + expires_in, 3)
        if call["service"] == "ecr-public":
            return ecr_public(call, expires_at)
        if call["service"] == "sso":
            return sso_role_credentials(self.headers)
        status, headers, payload = self.forward(body)
        if (status == 200 and call["service"] == "ecr"
                and call["operation"] == "GetAuthorizationToken"):
            payload = rewrite_expiry(payload, expires_at)
        return status, headers, payload

    def forward(self, body):
        host, port = self.server.front.lab.moto_address
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True,
                            skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP | {"host", "expect"}:
                    conn.putheader(name, value)
            # moto takes the region from a *.REGION.amazonaws.com Host before
            # the SigV4 scope; pointing Host at moto makes the scope decide.
            conn.putheader("Host", f"{host}:{port}")
            conn.putheader("X-Forwarded-Host", self.headers.get("Host", ""))
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as e:
            return aws_error(502, "LabProxyError", f"moto unreachable: {e}")
        finally:
            conn.close()
        # send_response adds its own Server and Date.
        headers = [(k, v) for k, v in resp.getheaders()
                   if k.lower() not in HOP_BY_HOP | {"server", "date"}]
        return resp.status, headers, payload

    def reply(self, status, headers, payload, cut_at=None):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload[:cut_at])
        if cut_at is not None:
            self.wfile.flush()
            self.drop()

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        log.debug("front %s: %s", self.address_string(), fmt % args)


def read_body(handler):
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def rewrite_expiry(payload, expires_at):
    """moto always says 2015-01-01; make the token live relative to now."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return payload
    for entry in doc.get("authorizationData") or []:
        if expires_at is None:
            entry.pop("expiresAt", None)
        else:
            entry["expiresAt"] = expires_at
    return json.dumps(doc).encode()


SSO_ROLE_CREDENTIALS_PATH = "/federation/credentials"


def sso_role_credentials(headers):
    """The SSO portal's GetRoleCredentials, which moto lacks: what an SSO profile turns
    its cached access token into. The bearer token must be the one `aws sso login`
    would have cached; the tests plant "lab-sso-access-token"."""
    if headers.get("x-amz-sso_bearer_token") != "lab-sso-access-token":
        return aws_error(401, "UnauthorizedException", "Session token not found or invalid")
    expiration_ms = int((time.time() + 3600) * 1000)
    creds = {"accessKeyId": "AKIASSOROLE000000000", "secretAccessKey": "sso-role-secret",
             "sessionToken": "sso-session-token", "expiration": expiration_ms}
    return 200, [("Content-Type", "application/json")], json.dumps({"roleCredentials": creds}).encode()


def ecr_public(call, expires_at):
    if call["operation"] != "GetAuthorizationToken":
        return aws_error(400, "UnsupportedOperation",
                         f"the lab does not implement ecr-public {call['operation']}")
    token = base64.b64encode(f"AWS:{PUBLIC_PASSWORD}".encode()).decode()
    data = {"authorizationToken": token}
    if expires_at is not None:
        data["expiresAt"] = expires_at
    return 200, [("Content-Type", JSON_11)], json.dumps({"authorizationData": data}).encode()


# --------------------------------------------------------------------------
# Registries

class Spawner:
    """Starts children from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so
    forking from short-lived control handler threads would kill registries as
    soon as their request finished. A single-worker pool keeps its thread for
    the life of the process, so children die exactly when the lab dies, even
    if the lab is SIGKILLed.
    """

    PR_SET_PDEATHSIG = 1

    def __init__(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spawner")
        self.prctl = ctypes.CDLL(None, use_errno=True).prctl
        self.lab_pid = os.getpid()

    def _die_with_lab(self):
        self.prctl(self.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.lab_pid:  # the lab died before prctl
            os._exit(1)

    def spawn(self, argv, **kwargs):
        return self.pool.submit(subprocess.Popen, argv, preexec_fn=self._die_with_lab,
                                stdin=subprocess.DEVNULL, **kwargs).result()


def stop_process(proc, grace=3.0):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def registry_config(addr, cert, key, htpasswd, data):
    q = json.dumps  # JSON strings are valid YAML scalars, and quote paths safely
    return f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {q(data)}
  delete:
    enabled: true
http:
  addr: {q(addr)}
  secret: {q(secrets.token_hex(16))}
  tls:
    certificate: {q(cert)}
    key: {q(key)}
auth:
  htpasswd:
    realm: {q("lab-registry")}
    path: {q(htpasswd)}
"""


def probe_registry(host, bind, port, context):
    """GET /v2/ at bind:port, verifying the certificate as `host` as clients will."""
    with socket.create_connection((bind, port), timeout=2) as raw, \
            context.wrap_socket(raw, server_hostname=host) as conn:
        conn.sendall(f"GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        resp = http.client.HTTPResponse(conn)
        resp.begin()
        return resp.status


def wait_for_registry(proc, host, bind, port, ca_path, log_path):
    context = ssl.create_default_context(cafile=ca_path)
    deadline = time.monotonic() + REGISTRY_DEADLINE
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status = probe_registry(host, bind, port, context)
            if status == 401:
                return
            last = f"GET /v2/ answered {status}, expected 401"
        except OSError as e:
            last = str(e)
        try:
            proc.wait(0.05)  # doubles as the poll interval
            break
        except subprocess.TimeoutExpired:
            pass
    stop_process(proc)
    with open(log_path, "rb") as f:
        tail = f.read()[-2000:].decode("utf-8", "replace")
    raise ApiError(500, f"registry on {bind}:{port} not ready ({last}, "
                        f"exit code {proc.returncode}): {tail}")


# --------------------------------------------------------------------------
# The lab and its control API

class Lab:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.fronts = {}
        self.registries = {}  # host -> (answer, Popen)
        self.next_front = 1
        self.spawner = Spawner()
        self.exiting = False

        from moto.server import ThreadedMotoServer  # slow import: keep it off --help
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        self.moto_address = self.moto.get_host_and_port()
        # moto builds each service's app on first use (~0.5 s); do it now so
        # the first call a test makes is not mysteriously slow.
        warm = threading.Thread(target=self.warm_up)
        warm.start()

        self.ca_path = os.path.join(directory, "ca.pem")
        self.ca = CertificateAuthority(self.ca_path)
        self.control = LabHTTPServer(("127.0.0.1", 0), ControlHandler)
        self.control.lab = self
        threading.Thread(target=self.control.serve_forever, name="control",
                         daemon=True).start()
        warm.join()

    def warm_up(self):
        host, port = self.moto_address
        requests = [
            ("ecr", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
             JSON_11, b"{}"),
            ("sts", None, "application/x-www-form-urlencoded",
             f"Action=GetCallerIdentity&Version={STS_VERSION}".encode()),
        ]
        for service, target, content_type, body in requests:
            headers = {"Content-Type": content_type, "Authorization":
                       "AWS4-HMAC-SHA256 Credential=AKIDLABWARMUP/20240101/us-east-1/"
                       f"{service}/aws4_request, SignedHeaders=host, Signature=0"}
            if target:
                headers["X-Amz-Target"] = target
            conn = http.client.HTTPConnection(host, port, timeout=30)
            try:
                conn.request("POST", "/", body, headers)
                conn.getresponse().read()
            except OSError as e:
                log.warning("moto warm-up for %s failed: %s", service, e)
            finally:
                conn.close()

    def handshake(self):
        host, port = self.moto_address
        return {"control": f"http://127.0.0.1:{self.control.server_address[1]}",
                "ca": self.ca_path, "moto": f"http://{host}:{port}"}

    def front(self, fid):
        with self.lock:
            if fid not in self.fronts:
                raise ApiError(404, f"no front {fid}")
            return self.fronts[fid]

    def create_front(self, spec):
        bind = loopback(spec.get("bind") or "127.0.0.1")
        port = int(spec.get("port") or 0)
        with self.lock:
            fid = f"f{self.next_front}"
            self.next_front += 1
        context = None
        if spec.get("tls", True):
            names = ["localhost", "127.0.0.1", bind, *(spec.get("cert_names") or [])]
            cert, key = self.ca.issue(os.path.join(self.dir, "fronts", fid), names)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
        try:
            front = Front(self, fid, bind, port, context)
        except OSError as e:
            raise ApiError(500, f"cannot listen on {bind}:{port}: {e}") from None
        with self.lock:
            self.fronts[fid] = front
        log.info("front %s on %s", fid, front.url)
        return self.describe_front(front)

    @staticmethod
    def describe_front(front):
        return {"id": front.id, "url": front.url, "bind": front.bind,
                "port": front.port, "tls": front.tls}

    def list_fronts(self):
        with self.lock:
            return [self.describe_front(f) for f in self.fronts.values()]

    def delete_front(self, fid):
        front = self.front(fid)
        with self.lock:
            del self.fronts[fid]
        front.close()
        return {"id": fid, "deleted": True}

    def start_registry(self, spec):
        host = spec.get("host")
        password = spec.get("password")
        if not host or not HOSTNAME_RE.match(host) or ".." in host:
            raise ApiError(400, f"bad registry host {host!r}")
        if not password:
            raise ApiError(400, "password is required")
        bind = loopback(spec.get("bind") or "127.0.0.1")
        port = reserve_port(bind, int(spec.get("port") if spec.get("port") is not None else 443))
        with self.lock:
            if host in self.registries:
                raise ApiError(400, f"registry {host} already exists")
            self.registries[host] = None  # reserve the name while starting

        try:
            root = os.path.join(self.dir, "registries", host)
            data = os.path.join(root, "data")
            os.makedirs(data, exist_ok=True)  # a restarted registry keeps its images
            # Docker looks for certs.d/<host>/ or, off port 443, certs.d/<host>:<port>/.
            authority = host if port == 443 else f"{host}:{port}"
            certs_d = os.path.join(root, "certs.d")
            os.makedirs(os.path.join(certs_d, authority), exist_ok=True)
            with open(os.path.join(certs_d, authority, "ca.crt"), "wb") as f, \
                    open(self.ca_path, "rb") as ca:
                f.write(ca.read())
            cert, key = self.ca.issue(root, [host, bind])
            htpasswd = os.path.join(root, "htpasswd")
            line = subprocess.run(["htpasswd", "-Bbn", "AWS", password], check=True,
                                  capture_output=True).stdout
            with open(htpasswd, "wb") as f:
                f.write(line.strip() + b"\n")
            config = os.path.join(root, "config.yml")
            with open(config, "w") as f:
                f.write(registry_config(f"{bind}:{port}", cert, key, htpasswd, data))

            log_path = os.path.join(root, "registry.log")
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            with open(log_path, "wb") as out:
                proc = self.spawner.spawn(["docker-registry", "serve", config],
                                          stdout=out, stderr=subprocess.STDOUT, env=env)
            answer = {"host": host, "url": f"https://{authority}", "addr": f"{bind}:{port}",
                      "ca": self.ca_path, "certs_d": certs_d, "dir": root, "pid": proc.pid}
            with self.lock:
                self.registries[host] = (answer, proc)
            wait_for_registry(proc, host, bind, port, self.ca_path, log_path)
        except BaseException:
            with self.lock:
                entry = self.registries.pop(host, None)
            if entry:
                stop_process(entry[1])
            raise
        log.info("registry %s on %s:%s (pid %s)", host, bind, port, proc.pid)
        return answer

    def stop_registry(self, host):
        with self.lock:
            entry = self.registries.get(host)
            if not entry:
                raise ApiError(404, f"no registry {host}")
            del self.registries[host]
        stop_process(entry[1])
        return {"host": host, "deleted": True}

    def list_registries(self):
        with self.lock:
            return [entry[0] for entry in self.registries.values() if entry]

    def exit(self, *_):
        if self.exiting:
            return
        self.exiting = True
        with self.lock:
            procs = [entry[1] for entry in self.registries.values() if entry]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 3
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.info("lab exiting")
        logging.shutdown()
        # The test process that made DIR is gone by now (its end of our stdin closed), so
        # the lab is the last one that can remove it.
        shutil.rmtree(self.dir, ignore_errors=True)
        # Skip interpreter teardown: daemon threads may be parked in "hang".
        os._exit(0)


class ContainerCredentials:
    """What the ECS/EKS credentials endpoint serves (AWS_CONTAINER_CREDENTIALS_FULL_URI
    may point at loopback), counting requests so tests can see a cache hit skip it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.served = 0

    def serve(self):
        with self.lock:
            self.served += 1
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return {
            "AccessKeyId": "AKIACONTAINER0000000",
            "SecretAccessKey": "container-secret-key",
            "Token": "container-session-token",
            "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def count(self):
        with self.lock:
            return {"served": self.served}


CONTAINER_CREDENTIALS = ContainerCredentials()

FID = r"(?P<fid>[^/]+)"
ROUTES = [
    ("GET", r"/container-credentials", lambda lab, body: CONTAINER_CREDENTIALS.serve()),
    ("GET", r"/container-credentials/served", lambda lab, body: CONTAINER_CREDENTIALS.count()),
    ("GET", r"/health", lambda lab, body: b"ok"),
    ("GET", r"/fronts", lambda lab, body: lab.list_fronts()),
    ("POST", r"/fronts", lambda lab, body: lab.create_front(body)),
    ("DELETE", rf"/fronts/{FID}", lambda lab, body, fid: lab.delete_front(fid)),
    ("GET", rf"/fronts/{FID}/calls", lambda lab, body, fid: lab.front(fid).snapshot()),
    ("POST", rf"/fronts/{FID}/reset",
     lambda lab, body, fid: lab.front(fid).reset() or {"id": fid, "reset": True}),
    ("GET", rf"/fronts/{FID}/faults", lambda lab, body, fid: lab.front(fid).faults()),
    ("POST", rf"/fronts/{FID}/faults", lambda lab, body, fid: lab.front(fid).set_faults(body)),
    ("GET", r"/registries", lambda lab, body: lab.list_registries()),
    ("POST", r"/registries", lambda lab, body: lab.start_registry(body)),
    ("DELETE", r"/registries/(?P<host>[^/]+)", lambda lab, body, host: lab.stop_registry(host)),
]


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def dispatch(self):
        raw = read_body(self)
        path = urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"
        for method, pattern, action in ROUTES:
            m = re.fullmatch(pattern, path)
            if m and method == self.command:
                break
        else:
            return self.send(404, {"error": f"no route {self.command} {path}"})
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object")
            result = action(self.server.lab, body, **m.groupdict())
        except ValueError as e:
            return self.send(400, {"error": f"bad request: {e}"})
        except ApiError as e:
            return self.send(e.status, {"error": str(e)})
        except Exception as e:
            log.exception("%s %s failed", self.command, path)
            return self.send(500, {"error": f"{type(e).__name__}: {e}"})
        self.send(200, result, "text/plain" if isinstance(result, bytes) else "application/json")

    do_GET = do_POST = do_DELETE = dispatch

    def send(self, status, payload, content_type="application/json"):
        # Every answer carries a Content-Length, so keep-alive clients work.
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        log.debug("control: %s", fmt % args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="empty scratch directory")
    args = parser.parse_args()
    directory = os.path.abspath(args.dir)
    started = time.monotonic()

    # stdout carries exactly one line, the handshake; moto and friends print.
    handshake_out, sys.stdout = sys.stdout, sys.stderr
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    logfile = logging.FileHandler(os.path.join(directory, "lab.log"))
    logging.basicConfig(level=logging.INFO, handlers=[stderr, logfile],
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    lab = Lab(directory)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lab.exit)
    log.info("lab ready in %.2f s: %s", time.monotonic() - started, lab.handshake())
    handshake_out.write(json.dumps(lab.handshake()) + "\n")
    handshake_out.flush()

    # The parent holds our stdin open for as long as it wants us alive.
    while os.read(0, 65536):
        pass
    lab.exit()


if __name__ == "__main__":
    main()
