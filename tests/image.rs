//! The container image has one definition: `hack/image-rootfs.sh` assembles its root filesystem
//! and the Dockerfile's runtime stage is `FROM scratch` + that tree + config that
//! `hack/build-image.sh` (the OCI build without Docker) reads back from the Dockerfile. These
//! tests keep the Dockerfile to that shape and check that the tree really is enough to run the
//! binary, and nothing more (no shell).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The instructions of each stage of the Dockerfile, continuation lines joined, comments dropped.
fn dockerfile_stages() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut stages: Vec<Vec<String>> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head.trim());
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let instruction = std::mem::take(&mut pending);
        if instruction.to_ascii_uppercase().starts_with("FROM ") {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push(instruction);
    }
    stages
}

#[test]
fn dockerfile_runtime_stage_is_the_shared_rootfs_and_config_only() {
    let stages = dockerfile_stages();
    assert_eq!(stages.len(), 2, "a builder stage and a runtime stage: {stages:#?}");
    let builder = stages[0].join("\n");
    assert!(
        builder.contains("hack/build-release.sh") && builder.contains("bash hack/image-rootfs.sh \"$bin\" /rootfs"),
        "the builder stage builds with hack/build-release.sh and assembles /rootfs with hack/image-rootfs.sh:\n{builder}"
    );
    let runtime = &stages[1];
    assert_eq!(runtime[0], "FROM scratch", "the runtime stage starts empty");
    assert_eq!(
        runtime[1], "COPY --from=builder /rootfs/ /",
        "and gets exactly the shared tree"
    );
    // hack/build-image.sh reads exactly these instructions; anything else (RUN, ADD, another COPY,
    // WORKDIR, a LABEL, ...) would make the two images differ.
    for instruction in &runtime[2..] {
        let word = instruction
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(
            ["ENV", "USER", "EXPOSE", "ENTRYPOINT"].contains(&word.as_str()),
            "hack/build-image.sh does not reproduce `{instruction}` of the Dockerfile's runtime stage"
        );
        if word == "ENV" {
            assert!(
                instruction[3..]
                    .trim()
                    .split_once('=')
                    .is_some_and(|(k, _)| !k.contains(' ')),
                "write ENV as one KEY=value per line (hack/build-image.sh reads that form): {instruction}"
            );
        }
    }
    assert!(
        runtime.contains(&"USER 65532:65532".to_string()),
        "non-root 65532: {runtime:?}"
    );
    assert!(
        runtime.contains(&r#"ENTRYPOINT ["/usr/local/bin/aws-invite-operator", "run"]"#.to_string()),
        "the chart passes only flags, so the entrypoint is `aws-invite-operator run`: {runtime:?}"
    );
    // The chart runs the pod as the image's user (runAsNonRoot needs a numeric user to verify).
    let values = std::fs::read_to_string(repo().join("charts/aws-invite-operator/values.yaml")).expect("values");
    assert!(values.contains("runAsUser: 65532") && values.contains("runAsGroup: 65532"));
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn needed_libraries(binary: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(binary)
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            l.split('[')
                .nth(1)
                .and_then(|s| s.split(']').next())
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn rootfs_runs_the_binary_with_nothing_but_its_own_libraries_and_has_no_shell() {
    let binary = Path::new(env!("CARGO_BIN_EXE_aws-invite-operator"));
    let dir = TempDir(std::env::temp_dir().join(format!("aio-image-rootfs-{}", std::process::id())));
    let rootfs = dir.0.join("rootfs");
    let status = Command::new("bash")
        .arg(repo().join("hack/image-rootfs.sh"))
        .arg(binary)
        .arg(&rootfs)
        .status()
        .expect("hack/image-rootfs.sh runs");
    assert!(status.success(), "hack/image-rootfs.sh failed");

    let files: Vec<PathBuf> = walk(&rootfs);
    let names: Vec<String> = files
        .iter()
        .map(|p| format!("/{}", p.strip_prefix(&rootfs).expect("under rootfs").display()))
        .collect();
    for shell in ["/bin/sh", "/bin/bash", "/usr/bin/sh", "/bin/busybox"] {
        assert!(!rootfs.join(&shell[1..]).exists(), "{shell} in the image");
    }
    // Every library the binary names is in the image, and nothing else is a library.
    let needed = needed_libraries(binary);
    assert!(!needed.is_empty(), "the release binary links glibc dynamically");
    for lib in &needed {
        assert!(
            names.iter().any(|n| n.ends_with(&format!("/{lib}"))),
            "{lib} missing from {names:#?}"
        );
    }
    let libraries: Vec<&String> = names.iter().filter(|n| n.contains(".so")).collect();
    // Nothing else: the image's libraries are the NEEDED ones plus the ELF interpreter (which
    // glibc's binaries may also list as NEEDED).
    let mut expected: Vec<String> = needed.clone();
    expected.push("ld-linux-x86-64.so.2".to_string());
    expected.sort();
    expected.dedup();
    let mut present: Vec<String> = libraries
        .iter()
        .filter_map(|n| n.rsplit('/').next().map(str::to_string))
        .collect();
    present.sort();
    assert_eq!(
        present, expected,
        "the NEEDED libraries plus the ELF interpreter, nothing more"
    );

    // The binary runs with the image's loader and libraries only (no host library path).
    let interpreter = libraries
        .iter()
        .find(|n| n.contains("ld-linux"))
        .expect("the ELF interpreter");
    let lib_dirs: Vec<String> = libraries
        .iter()
        .filter_map(|n| Path::new(n.as_str()).parent())
        .map(|d| {
            rootfs
                .join(d.strip_prefix("/").expect("absolute"))
                .display()
                .to_string()
        })
        .collect();
    let out = Command::new(rootfs.join(&interpreter[1..]))
        .arg("--inhibit-cache")
        .arg("--library-path")
        .arg(lib_dirs.join(":"))
        .arg(rootfs.join("usr/local/bin/aws-invite-operator"))
        .arg("--version")
        .env_clear()
        .output()
        .expect("the image's loader runs");
    assert!(
        out.status.success(),
        "binary in the rootfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));

    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("/etc/passwd");
    assert!(
        passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    assert!(
        !passwd.contains("/bin/sh") && !passwd.contains("/bin/bash"),
        "no login shells: {passwd}"
    );
    let ca = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).expect("CA bundle");
    assert!(ca.matches("BEGIN CERTIFICATE").count() > 50, "the Debian CA bundle");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
