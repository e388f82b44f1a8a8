//! Throughput of the secret scanner's engine over ~64 MiB of synthetic data:
//! log/config/code-like text and binary (random bytes, zero runs, string
//! tables), with a few secrets planted, scanned with the built-in rules.
//!
//! `cargo bench -p snapaudit-benches --bench scan_engine -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snapaudit::scan::{RuleSet, Scanner};

const SIZE_BYTES: usize = 64 << 20;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| char::from(A[(self.next() % A.len() as u64) as usize]))
            .collect()
    }
}

/// Lines typical of a Linux root filesystem with no anchor of any rule.
const PLAIN: &[&str] = &[
    "Jan 12 10:00:01 web-1 sshd[1234]: Accepted publickey for deploy from 10.0.0.7 port 52144 ssh2\n",
    "Jan 12 10:00:02 web-1 systemd[1]: Started Session 42 of user deploy.\n",
    "    def handle(self, request, *args, **kwargs):\n",
    "        return self.render(request, template_name='index.html')\n",
    "import os, sys, json\n",
    "timeout = 30\nretries = 5\nlisten = 0.0.0.0:8080\n",
    "# This program is free software; you can redistribute it and/or modify\n",
    "#   it under the terms of the GNU General Public License as published by\n",
    "if [ -f /etc/default/locale ]; then . /etc/default/locale; fi\n",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    "  <dependency><groupId>org.example</groupId><artifactId>core</artifactId></dependency>\n",
    "{\"name\": \"demo\", \"version\": \"1.2.3\", \"description\": \"a small package\"}\n",
];

/// Lines that contain anchors (`://`, `pass`, `secret`) but no secret.
const ANCHORED: &[&str] = &[
    "deb https://deb.debian.org/debian bookworm main contrib non-free-firmware\n",
    "PasswordAuthentication no\nPermitRootLogin prohibit-password\n",
    "passwd:         files systemd\ngroup:          files systemd\n",
    "The password must be at least 12 characters long and is never stored.\n",
    "See https://www.gnu.org/licenses/ for the full text of the license.\n",
    "static const char *secret_key_path = \"/etc/app/secret.key\";\n",
];

const STRINGS: &[&str] = &[
    "GLIBC_2.34\0",
    "__cxa_finalize\0",
    "libcrypto.so.3\0",
    "error: could not open %s: %s\n\0",
    "usage: %s [-v] [-p port] host\0",
    "Enter passphrase for key '%s': \0",
];

fn synthetic(size: usize) -> Vec<u8> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut data = Vec::with_capacity(size + 4096);
    while data.len() < size {
        match rng.next() % 10 {
            // 60 %: text, 64 KiB at a time; one line in 64 has an anchor
            // (about one hit per 4 KiB, like a real root filesystem).
            0..=5 => {
                let end = data.len() + 65536;
                while data.len() < end {
                    let lines = if rng.next() & 63 == 0 {
                        ANCHORED
                    } else {
                        PLAIN
                    };
                    data.extend_from_slice(rng.pick(lines).as_bytes());
                }
            }
            // 20 %: random binary (compressed or encrypted data).
            6 | 7 => {
                for _ in 0..8192 {
                    data.extend_from_slice(&rng.next().to_le_bytes());
                }
            }
            // 10 %: zero runs (sparse files, free space).
            8 => data.resize(data.len() + 65536, 0),
            // 10 %: executable-like: small numbers and string tables.
            _ => {
                let end = data.len() + 65536;
                while data.len() < end {
                    if rng.next() & 3 == 0 {
                        data.extend_from_slice(rng.pick(STRINGS).as_bytes());
                    } else {
                        data.extend_from_slice(&(rng.next() & 0x0000_00ff_0000_00ff).to_le_bytes());
                    }
                }
            }
        }
    }
    data.truncate(size);
    // Plant a few secrets (assembled at run time, like the unit tests).
    let planted = [
        format!("\naws_access_key_id = {}{}\n", "AKIA", "QWERTYUIOPASDF23"),
        format!("\naccess_key_id = {}{}\n", "LTAI", rng.alnum(20)),
        format!("\nGITHUB_TOKEN={}{}\n", "ghp_", rng.alnum(36)),
        format!(
            "\nDATABASE_URL=postgres://app:{}@db:5432/app\n",
            rng.alnum(14)
        ),
        format!("\nmysql -u root -p{} app\n", rng.alnum(12)),
    ];
    for (i, secret) in planted.iter().enumerate() {
        let at = (i + 1) * size / (planted.len() + 1);
        data[at..at + secret.len()].copy_from_slice(secret.as_bytes());
    }
    data
}

fn bench(c: &mut Criterion) {
    let scanner = Scanner::new(RuleSet::builtin()).expect("built-in rules compile");
    let data = synthetic(SIZE_BYTES);
    let mut found = 0usize;
    scanner.scan(&data, None, &mut |_| found += 1);
    eprintln!("scan_engine: {} MiB, {found} matches", data.len() >> 20);

    let mut group = c.benchmark_group("scan_engine");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.bench_function("builtin_mixed_64MiB", |b| {
        b.iter(|| {
            let mut n = 0usize;
            scanner.scan(&data, None, &mut |_| n += 1);
            n
        })
    });
    // Worst case: every other line has an anchor and the rules' regexes
    // run over most of the text.
    let dense: Vec<u8> = PLAIN
        .iter()
        .zip(ANCHORED.iter().cycle())
        .flat_map(|(a, b)| [*a, *b])
        .cycle()
        .take(128 * 1024)
        .flat_map(|l| l.bytes())
        .collect();
    group.throughput(Throughput::Bytes(dense.len() as u64));
    group.bench_function("builtin_anchor_dense_text", |b| {
        b.iter(|| {
            let mut n = 0usize;
            scanner.scan(&dense, None, &mut |_| n += 1);
            n
        })
    });
    // Real data: SNAPAUDIT_BENCH_FILE names a file to scan as one buffer,
    // e.g. the benchmark image's files concatenated
    // (`find target/bench/tree -type f -exec cat {} + >/tmp/tree.cat`).
    if let Some(path) = std::env::var_os("SNAPAUDIT_BENCH_FILE") {
        match std::fs::read(&path) {
            Ok(real) => {
                group.throughput(Throughput::Bytes(real.len() as u64));
                group.bench_function("builtin_real_file", |b| {
                    b.iter(|| {
                        let mut n = 0usize;
                        scanner.scan(&real, None, &mut |_| n += 1);
                        n
                    })
                });
            }
            Err(e) => eprintln!("scan_engine: SNAPAUDIT_BENCH_FILE {path:?}: {e}"),
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
