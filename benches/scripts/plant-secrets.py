#!/usr/bin/env python3
"""Plant one secret of each kind into a Debian root tree for the benchmarks.

    plant-secrets.py ROOT TSV

Every value is generated at run time from random pieces (this file holds no
literal secret; prefixes such as the AWS one are split so that the source
itself never looks like a key). TSV gets one row per planted secret value:

    path  line  offset_bytes  kind  rule  severity  also_rules  note

`line` is 1-based (empty for a whole-file finding), `rule` is the rule id of
docs/RULES.md that must fire on it, `also_rules` lists file-level rules
expected on the same path (e.g. secret.credentials-file). The values
themselves are never written to TSV. One extra line `#deleted<TAB>PATH` names
the file the image script deletes with debugfs after mke2fs; its row has path
`unallocated` and gets the image offset filled in later.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import subprocess
import sys
import time
import warnings
import zlib

ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def rnd(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def base62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out or "0"


def github_token() -> str:
    # Classic PAT layout: prefix, 30 random base62 chars, then the CRC32 of
    # those 30 chars in base62 (6 chars). Scanners such as Kingfisher check
    # the checksum, so a random 36-char tail would be (rightly) ignored.
    while True:
        body = rnd(ALNUM, 30)
        check = base62(zlib.crc32(body.encode()))
        if len(check) == 6:
            return "gh" + "p_" + body + check


def jwt() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    now = int(time.time())
    claims = {"sub": "svc-webapp", "iss": "auth.corp.internal", "iat": now, "exp": now + 86400 * 365,
              "scope": "orders:write inventory:read"}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secrets.token_bytes(32), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def password(n: int = 16) -> str:
    # Mixed classes so that no scanner can dismiss it as a word or placeholder.
    return rnd(string.ascii_uppercase, 2) + rnd(string.digits, 2) + rnd(ALNUM, n - 4)


class Planter:
    def __init__(self, root: str):
        self.root = root
        self.rows: list[list[str]] = []
        self.deleted: str | None = None

    def host(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def owner(self, user: str) -> tuple[int, int]:
        with open(self.host("/etc/passwd")) as f:
            for line in f:
                parts = line.split(":")
                if parts[0] == user:
                    return int(parts[2]), int(parts[3])
        raise SystemExit(f"plant-secrets: no user {user} in the tree")

    def mkdirs(self, path: str, user: str) -> None:
        """Create the parents of PATH inside the tree, owned by USER, mode 0700
        under a home directory (as the CLIs that write these files do)."""
        uid, gid = self.owner(user)
        parent = os.path.dirname(path)
        missing = []
        while not os.path.isdir(self.host(parent)):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(missing):
            os.mkdir(self.host(d), 0o700 if d.startswith(("/home/", "/root/")) else 0o755)
            os.chown(self.host(d), uid, gid)

    def write(self, path: str, lines: list[str], user: str, mode: int = 0o600) -> None:
        self.mkdirs(path, user)
        uid, gid = self.owner(user)
        with open(self.host(path), "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.chown(self.host(path), uid, gid)
        os.chmod(self.host(path), mode)

    def keygen(self, path: str, user: str, kind: str) -> None:
        self.mkdirs(path, user)
        args = ["ssh-keygen", "-q", "-N", "", "-C", f"{user}@bench-debian12", "-f", self.host(path)]
        args += ["-t", "rsa", "-b", "2048", "-m", "PEM"] if kind == "rsa-pem" else ["-t", "ed25519"]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        uid, gid = self.owner(user)
        for p in (path, path + ".pub"):
            os.chown(self.host(p), uid, gid)

    def row(self, path, line, kind, rule, severity="error", also="", note=""):
        self.rows.append([path, "" if line is None else str(line), "", kind, rule, severity, also, note])


def line_of(lines: list[str], needle: str) -> int:
    for i, line in enumerate(lines, 1):
        if needle in line:
            return i
    raise SystemExit(f"plant-secrets: {needle!r} not in the planted lines")


def main() -> None:
    root, tsv = sys.argv[1], sys.argv[2]
    p = Planter(root)

    # AWS CLI credentials (key id + secret), alice.
    aws = ["[default]",
           "aws_access_key_id = " + "AK" + "IA" + rnd(string.ascii_uppercase + "234567", 16),
           "aws_secret_access_key = " + rnd(ALNUM + "/+", 40),
           "region = ap-southeast-1"]
    p.write("/home/alice/.aws/credentials", aws, "alice")
    p.row("/home/alice/.aws/credentials", 2, "aws-access-key-id", "secret.cloud-access-key",
          also="secret.credentials-file")
    p.row("/home/alice/.aws/credentials", 3, "aws-secret-access-key", "secret.cloud-access-key",
          also="secret.credentials-file")

    # Alibaba Cloud CLI profile (LTAI + 20, secret of 30), alice.
    profile = {"name": "default", "mode": "AK",
               "access_key_id": "LT" + "AI" + rnd(ALNUM, 20),
               "access_key_secret": rnd(ALNUM, 30),
               "sts_token": "", "ram_role_name": "", "ram_role_arn": "", "ram_session_name": "",
               "private_key": "", "key_pair_name": "", "expired_seconds": 0, "verified": "",
               "region_id": "cn-hangzhou", "output_format": "json", "language": "en", "site": "",
               "retry_timeout": 0, "connect_timeout": 0, "retry_count": 0, "process_command": "",
               "credentials_uri": ""}
    aliyun = json.dumps({"current": "default", "profiles": [profile], "meta_path": ""}, indent="\t").split("\n")
    p.write("/home/alice/.aliyun/config.json", aliyun, "alice")
    p.row("/home/alice/.aliyun/config.json", line_of(aliyun, '"access_key_id"'), "alibaba-access-key-id",
          "secret.cloud-access-key", also="secret.credentials-file")
    p.row("/home/alice/.aliyun/config.json", line_of(aliyun, '"access_key_secret"'),
          "alibaba-access-key-secret", "secret.cloud-access-key", also="secret.credentials-file")

    # Private keys: unencrypted RSA in PEM (alice), OpenSSH ed25519 (bob).
    p.keygen("/home/alice/.ssh/id_rsa", "alice", "rsa-pem")
    p.row("/home/alice/.ssh/id_rsa", 1, "rsa-pem-private-key", "secret.private-key")
    with open(p.host("/home/alice/.ssh/id_rsa.pub")) as f:
        p.write("/home/alice/.ssh/authorized_keys", [f.read().strip()], "alice")
    p.keygen("/home/bob/.ssh/id_ed25519", "bob", "ed25519")
    p.row("/home/bob/.ssh/id_ed25519", 1, "openssh-ed25519-private-key", "secret.private-key")

    # GitHub token in an application's .env (deploy).
    env = ["APP_ENV=production", "APP_PORT=8080", "LOG_LEVEL=info", "GITHUB_TOKEN=" + github_token(),
           "CACHE_TTL_SECONDS=300"]
    p.write("/home/deploy/webapp/.env", env, "deploy", 0o640)
    p.row("/home/deploy/webapp/.env", line_of(env, "GITHUB_TOKEN="), "github-token", "secret.token")

    # JWT bearer token and a password in a URL, in system config files.
    api = ["[upstream]", "endpoint = https://api.corp.internal/v2", "bearer_token = " + jwt(),
           "timeout_seconds = 30"]
    p.write("/etc/webapp/api.conf", api, "root", 0o640)
    p.row("/etc/webapp/api.conf", line_of(api, "bearer_token"), "jwt", "secret.token")
    db = ["production:", "  adapter: postgresql",
          f"  url: postgresql://webapp:{password()}@db.corp.internal:5432/webapp", "  pool: 10"]
    p.write("/etc/webapp/database.yml", db, "root", 0o640)
    p.row("/etc/webapp/database.yml", line_of(db, "url:"), "password-in-url", "secret.password")

    # A password on a command line in root's shell history.
    hist = ["apt-get update", "systemctl status ssh", "cd /etc/webapp", "ls -la",
            f"mysql -u root -p{password()} -h 10.0.3.15 shop", "vim database.yml", "exit"]
    p.write("/root/.bash_history", hist, "root")
    p.row("/root/.bash_history", line_of(hist, "mysql -u"), "mysql-command-line-password", "secret.password")

    # .netrc (alice), .pgpass (bob).
    netrc = [f"machine git.corp.internal login alice password {password()}"]
    p.write("/home/alice/.netrc", netrc, "alice")
    p.row("/home/alice/.netrc", 1, "netrc-password", "secret.password")
    pgpass = [f"db.corp.internal:5432:*:bob:{password()}"]
    p.write("/home/bob/.pgpass", pgpass, "bob")
    p.row("/home/bob/.pgpass", 1, "pgpass-password", "secret.password")

    # Docker registry auth (base64 of user:password), deploy.
    auth = base64.b64encode(f"deploy:{password(20)}".encode()).decode()
    docker = json.dumps({"auths": {"registry.corp.internal:5000": {"auth": auth}}}, indent="\t").split("\n")
    p.write("/home/deploy/.docker/config.json", docker, "deploy")
    p.row("/home/deploy/.docker/config.json", line_of(docker, '"auth"'), "docker-registry-auth", "secret.token",
          also="secret.credentials-file")

    # Usable password hashes for alice and bob in /etc/shadow.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # stdlib until 3.13; glibc's crypt(3) does the hashing
    shadow_path = p.host("/etc/shadow")
    with open(shadow_path) as f:
        shadow = f.read().split("\n")
    for user in ("alice", "bob"):
        i = line_of(shadow, user + ":")
        fields = shadow[i - 1].split(":")
        fields[1] = crypt.crypt(password(), crypt.mksalt(crypt.METHOD_SHA512))
        shadow[i - 1] = ":".join(fields)
        p.row("/etc/shadow", i, "password-hash", "secret.password-hash", severity="warning", note=user)
    st = os.stat(shadow_path)
    with open(shadow_path, "w") as f:
        f.write("\n".join(shadow))
    os.chmod(shadow_path, st.st_mode & 0o7777)

    # A key file that the image script deletes after mke2fs (debugfs rm).
    deleted = "/home/bob/old_backup_key.pem"
    p.keygen(deleted, "bob", "rsa-pem")
    os.unlink(p.host(deleted + ".pub"))
    p.row("unallocated", None, "deleted-rsa-pem-private-key", "secret.deleted",
          note=f"deleted file {deleted}; offset_bytes is its first block in the image")

    with open(tsv, "w") as f:
        f.write("path\tline\toffset_bytes\tkind\trule\tseverity\talso_rules\tnote\n")
        for r in p.rows:
            f.write("\t".join(r) + "\n")
        f.write(f"#deleted\t{deleted}\n")


if __name__ == "__main__":
    main()
