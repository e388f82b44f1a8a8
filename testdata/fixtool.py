#!/usr/bin/env python3
"""Byte-level helpers for testdata/build-fixtures.sh.

Three jobs the e2fsprogs/util-linux tools cannot do on a plain file:

* ``secret KIND SEED``: print a fake but well-formed secret (cloud keys,
  tokens, private keys, password hashes). Values are derived from SEED with
  SHA-256 in counter mode, so every build produces the same bytes and the
  repository itself holds no literal secret a scanner could flag.
* ``gpt-patch`` / ``ebr-loop``: damage a valid partition table in a precise
  way (header fields, entries, EBR chain) and recompute the CRCs, so the
  result is hostile but self-consistent where a reader checks it.
* ``crc32``: CRC-32 of stdin (the GPT flavour), for ad-hoc checks.

Only the standard library is used (Debian package ``python3``).
"""

import argparse
import base64
import hashlib
import json
import struct
import sys
import zlib

# Alphabets of the real formats.
BASE32_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # AWS key ids
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BASE64_STD = ALNUM + "+/"
CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Rng:
    """Deterministic byte stream: SHA-256(seed || counter)."""

    def __init__(self, seed: str):
        self.seed = seed.encode()
        self.counter = 0
        self.pool = b""

    def bytes(self, n: int) -> bytes:
        while len(self.pool) < n:
            block = hashlib.sha256(self.seed + struct.pack("<Q", self.counter)).digest()
            self.counter += 1
            self.pool += block
        out, self.pool = self.pool[:n], self.pool[n:]
        return out

    def chars(self, alphabet: str, n: int) -> str:
        # Rejection sampling keeps the distribution uniform, so entropy checks
        # in scanners see a realistic value.
        limit = 256 - (256 % len(alphabet))
        out = []
        while len(out) < n:
            for b in self.bytes(n):
                if b < limit and len(out) < n:
                    out.append(alphabet[b % len(alphabet)])
        return "".join(out)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def base62(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = digits[r] + out
    return out.rjust(width, "0")


def pem(label: str, der: bytes, width: int = 64) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    # The armour is assembled from parts so this source file never contains
    # a complete private-key header.
    head = "-----" + "BEGIN " + label + "-----"
    tail = "-----" + "END " + label + "-----"
    return "\n".join([head, *lines, tail]) + "\n"


# --- DER (just enough for an RSAPrivateKey SEQUENCE) -------------------------


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der_int(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return b"\x02" + der_len(len(value)) + value


def der_seq(*items: bytes) -> bytes:
    body = b"".join(items)
    return b"\x30" + der_len(len(body)) + body


def odd_top(rng: Rng, nbytes: int) -> bytes:
    """Random big integer with its top bit set and odd, like an RSA factor."""
    raw = bytearray(rng.bytes(nbytes))
    raw[0] |= 0x80
    raw[-1] |= 0x01
    return bytes(raw)


def rsa_pem(rng: Rng, bits: int) -> str:
    half = bits // 16
    n = odd_top(rng, bits // 8)
    der = der_seq(
        der_int(b"\x00"),  # version
        der_int(n),  # modulus
        der_int((65537).to_bytes(3, "big")),  # publicExponent
        der_int(rng.bytes(bits // 8)),  # privateExponent
        der_int(odd_top(rng, half)),  # prime1
        der_int(odd_top(rng, half)),  # prime2
        der_int(rng.bytes(half)),  # exponent1
        der_int(rng.bytes(half)),  # exponent2
        der_int(rng.bytes(half)),  # coefficient
    )
    return pem("RSA PRIVATE KEY", der)


# --- OpenSSH key format (PROTOCOL.key) ---------------------------------------


def ssh_str(data) -> bytes:
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">I", len(data)) + data


def ssh_mpint(raw: bytes) -> bytes:
    raw = raw.lstrip(b"\x00")
    if raw and raw[0] & 0x80:
        raw = b"\x00" + raw
    return ssh_str(raw)


def openssh_key(rng: Rng, keytype: str, encrypted: bool, comment: str):
    """Return (private key text, public key line) in OpenSSH format."""
    if keytype == "ed25519":
        name = "ssh-ed25519"
        pub = rng.bytes(32)
        pub_blob = ssh_str(name) + ssh_str(pub)
        priv_fields = ssh_str(name) + ssh_str(pub) + ssh_str(rng.bytes(32) + pub)
    elif keytype == "ecdsa":
        name = "ecdsa-sha2-nistp256"
        point = b"\x04" + rng.bytes(64)
        pub_blob = ssh_str(name) + ssh_str("nistp256") + ssh_str(point)
        priv_fields = (
            ssh_str(name) + ssh_str("nistp256") + ssh_str(point) + ssh_mpint(rng.bytes(32))
        )
    elif keytype == "rsa":
        name = "ssh-rsa"
        n = odd_top(rng, 256)
        e = (65537).to_bytes(3, "big")
        pub_blob = ssh_str(name) + ssh_mpint(e) + ssh_mpint(n)
        priv_fields = (
            ssh_str(name)
            + ssh_mpint(n)
            + ssh_mpint(e)
            + ssh_mpint(rng.bytes(256))  # d
            + ssh_mpint(rng.bytes(128))  # iqmp
            + ssh_mpint(odd_top(rng, 128))  # p
            + ssh_mpint(odd_top(rng, 128))  # q
        )
    else:
        raise SystemExit(f"unknown key type {keytype}")

    check = rng.bytes(4)
    private = check + check + priv_fields + ssh_str(comment)
    block = 16 if encrypted else 8
    pad = 1
    while len(private) % block:
        private += bytes([pad])
        pad += 1
    if encrypted:
        cipher, kdf = "aes256-ctr", "bcrypt"
        kdfopts = ssh_str(rng.bytes(16)) + struct.pack(">I", 16)
        # What a real encrypted key holds here is ciphertext: random bytes of
        # the same length.
        private = rng.bytes(len(private))
    else:
        cipher, kdf, kdfopts = "none", "none", b""
    blob = (
        b"openssh-key-v1\x00"
        + ssh_str(cipher)
        + ssh_str(kdf)
        + ssh_str(kdfopts)
        + struct.pack(">I", 1)
        + ssh_str(pub_blob)
        + ssh_str(private)
    )
    text = pem("OPENSSH PRIVATE KEY", blob, width=70)
    line = f"{name} {base64.b64encode(pub_blob).decode()} {comment}\n"
    return text, line


def github_token(rng: Rng, prefix: str) -> str:
    # Real GitHub tokens end with a base62 CRC32 of the random part.
    body = rng.chars(ALNUM, 30)
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


def jwt(rng: Rng) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": "1000", "name": "deploy", "iat": 1696161600, "scope": "admin"}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64url(rng.bytes(32))}"


def cmd_secret(args) -> None:
    rng = Rng(f"{args.kind}:{args.seed}")
    kind = args.kind
    if kind == "aws-key-id":
        out = "AKIA" + rng.chars(BASE32_UPPER, 16)
    elif kind == "aws-secret":
        out = rng.chars(BASE64_STD, 40)
    elif kind == "ali-key-id":
        out = "LTAI" + "5t" + rng.chars(ALNUM, 18)
    elif kind == "ali-secret":
        out = rng.chars(ALNUM, 30)
    elif kind == "github":
        out = github_token(rng, "gh" + "p_")
    elif kind == "jwt":
        out = jwt(rng)
    elif kind == "password":
        out = rng.chars(ALNUM, 16)
    elif kind == "sha512crypt":
        out = "$6$" + rng.chars(CRYPT64, 16) + "$" + rng.chars(CRYPT64, 86)
    elif kind == "docker-auth":
        user_pass = "deploy:" + rng.chars(ALNUM, 20)
        out = base64.b64encode(user_pass.encode()).decode()
    elif kind == "rsa-pem":
        out = rsa_pem(rng, 2048)
    elif kind in ("ssh-ed25519", "ssh-ecdsa", "ssh-rsa"):
        text, line = openssh_key(rng, kind[4:], args.encrypted, args.comment)
        if args.pub:
            with open(args.pub, "w") as f:
                f.write(line)
        out = text
    elif kind == "hex":
        out = rng.bytes(args.length).hex()
    elif kind == "bytes":
        # Incompressible filler (fragmented-file fixture).
        sys.stdout.buffer.write(rng.bytes(args.length))
        return
    else:
        raise SystemExit(f"unknown secret kind {kind}")
    sys.stdout.write(out)


# --- GPT --------------------------------------------------------------------

GPT_SIG = b"EFI PART"


def gpt_crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def read_header(img, lba: int, sector: int) -> bytearray:
    img.seek(lba * sector)
    hdr = bytearray(img.read(sector))
    if hdr[:8] != GPT_SIG:
        raise SystemExit(f"no GPT header at LBA {lba}")
    return hdr


def write_header(img, lba: int, sector: int, hdr: bytearray) -> None:
    size = struct.unpack_from("<I", hdr, 12)[0]
    struct.pack_into("<I", hdr, 16, 0)
    struct.pack_into("<I", hdr, 16, gpt_crc(bytes(hdr[:size])))
    img.seek(lba * sector)
    img.write(hdr)


def cmd_gpt_patch(args) -> None:
    """Patch primary and/or backup GPT: entries first (with their CRC), then
    header fields, then the header CRC, so only the intended field is wrong."""
    sector = args.sector_size
    with open(args.image, "r+b") as img:
        primary = read_header(img, 1, sector)
        backup_lba = struct.unpack_from("<Q", primary, 32)[0]
        targets = []
        if args.which in ("primary", "both"):
            targets.append((1, primary))
        if args.which in ("backup", "both"):
            targets.append((backup_lba, read_header(img, backup_lba, sector)))
        for lba, hdr in targets:
            entries_lba = struct.unpack_from("<Q", hdr, 72)[0]
            count, esize = struct.unpack_from("<II", hdr, 80)
            img.seek(entries_lba * sector)
            entries = bytearray(img.read(count * esize))
            for spec in args.entry or []:
                idx, first, last = (int(x, 0) for x in spec.split(":"))
                struct.pack_into("<QQ", entries, (idx - 1) * esize + 32, first, last)
            if args.entry:
                img.seek(entries_lba * sector)
                img.write(entries)
                struct.pack_into("<I", hdr, 88, gpt_crc(bytes(entries)))
            if args.entries_lba is not None:
                struct.pack_into("<Q", hdr, 72, args.entries_lba)
            if args.num_entries is not None:
                struct.pack_into("<I", hdr, 80, args.num_entries)
            if args.entry_size is not None:
                struct.pack_into("<I", hdr, 84, args.entry_size)
            write_header(img, lba, sector, hdr)


# --- MBR extended chain -------------------------------------------------------

EXTENDED_TYPES = (0x05, 0x0F, 0x85)


def mbr_entries(sector: bytes):
    for i in range(4):
        off = 446 + 16 * i
        ptype = sector[off + 4]
        start, count = struct.unpack_from("<II", sector, off + 8)
        yield off, ptype, start, count


def cmd_ebr_loop(args) -> None:
    """Point an EBR's link entry back into the chain (a cycle)."""
    with open(args.image, "r+b") as img:
        mbr = img.read(512)
        ext = [(s, c) for _, t, s, c in mbr_entries(mbr) if t in EXTENDED_TYPES]
        if not ext:
            raise SystemExit("no extended partition")
        ext_start, ext_count = ext[0]
        chain = []  # absolute LBAs of the EBRs
        ebr = ext_start
        while ebr not in chain:
            chain.append(ebr)
            img.seek(ebr * 512)
            sec = img.read(512)
            _, t, s, _ = list(mbr_entries(sec))[1]
            if t not in EXTENDED_TYPES or s == 0:
                break
            ebr = ext_start + s
        last = chain[-1]
        target = chain[0] if args.to == "first" else last
        # The link's start is relative to the start of the extended partition.
        img.seek(last * 512 + 446 + 16)
        img.write(struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0x05, b"\xfe\xff\xff",
                              target - ext_start, ext_count - (target - ext_start)))
        print(f"ebr_chain_lba={','.join(map(str, chain))} link_from={last} link_to={target}")


def cmd_frag_notes(args) -> None:
    """Write a text file whose secret straddles the first block boundary.

    The file is later written into a fragmented free-space map, so its first
    block boundary is also an extent boundary: a scanner that reads extent
    by extent without stitching misses the token."""
    block = args.block
    prefix = "export GITHUB_TOKEN="
    token = args.token
    start = block - args.before  # token's first byte in the file
    header = "# notes (fragmented file)\n"
    filler_len = 64
    n_filler = (start - len(prefix) - len(header)) // filler_len
    pad = start - len(prefix) - len(header) - n_filler * filler_len
    lines = [header]
    if pad:
        lines.append("#" * (pad - 1) + "\n")
    for i in range(n_filler):
        lines.append(f"# filler line {i:04d} ".ljust(filler_len - 1, ".") + "\n")
    token_line = len(lines) + 1
    lines.append(prefix + token + "\n")
    text = "".join(lines)
    assert text.index(token) == start
    i = 0
    while len(text) < block * args.blocks - filler_len:
        text += f"# tail line {i:04d} ".ljust(filler_len - 1, ".") + "\n"
        i += 1
    with open(args.out, "w") as f:
        f.write(text)
    print(f"secret_file_offset={start} secret_len={len(token)} secret_line={token_line} size={len(text)}")


def cmd_fillers(args) -> None:
    """COUNT files of SIZE incompressible bytes: DIR/f000, DIR/f001, ..."""
    for i in range(args.count):
        with open(f"{args.dir}/f{i:03d}", "wb") as f:
            f.write(Rng(f"bytes:{args.seed}/filler{i}").bytes(args.size))


def cmd_crc32(_args) -> None:
    print(f"{gpt_crc(sys.stdin.buffer.read()):08x}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("secret")
    s.add_argument("kind")
    s.add_argument("seed")
    s.add_argument("--encrypted", action="store_true")
    s.add_argument("--comment", default="user@debian")
    s.add_argument("--pub", help="also write the public key line here")
    s.add_argument("--length", type=int, default=32)
    s.set_defaults(func=cmd_secret)

    g = sub.add_parser("gpt-patch")
    g.add_argument("image")
    g.add_argument("--sector-size", type=int, default=512)
    g.add_argument("--which", choices=("primary", "backup", "both"), default="both")
    g.add_argument("--entries-lba", type=lambda x: int(x, 0))
    g.add_argument("--num-entries", type=lambda x: int(x, 0))
    g.add_argument("--entry-size", type=lambda x: int(x, 0))
    g.add_argument("--entry", action="append", help="INDEX:FIRST_LBA:LAST_LBA")
    g.set_defaults(func=cmd_gpt_patch)

    e = sub.add_parser("ebr-loop")
    e.add_argument("image")
    e.add_argument("--to", choices=("first", "self"), default="first")
    e.set_defaults(func=cmd_ebr_loop)

    f = sub.add_parser("frag-notes")
    f.add_argument("out")
    f.add_argument("--token", required=True)
    f.add_argument("--block", type=int, default=4096)
    f.add_argument("--before", type=int, default=18, help="token bytes before the boundary")
    f.add_argument("--blocks", type=int, default=8)
    f.set_defaults(func=cmd_frag_notes)

    fl = sub.add_parser("fillers")
    fl.add_argument("dir")
    fl.add_argument("--count", type=int, default=64)
    fl.add_argument("--size", type=int, default=4096)
    fl.add_argument("--seed", default="filler")
    fl.set_defaults(func=cmd_fillers)

    c = sub.add_parser("crc32")
    c.set_defaults(func=cmd_crc32)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
