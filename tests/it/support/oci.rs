//! Tiny images built in memory, so that no test pulls anything from the internet: a tar
//! holding one file (for `docker import`) and an OCI image layout (for skopeo's `oci:`).

use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;

pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A POSIX ustar archive with one regular file.
pub fn tar_with_file(name: &str, contents: &[u8]) -> Vec<u8> {
    assert!(name.len() < 100, "a ustar name field holds 99 bytes");
    let mut header = [0u8; 512];
    let mut field =
        |offset: usize, value: &[u8]| header[offset..offset + value.len()].copy_from_slice(value);
    field(0, name.as_bytes());
    field(100, b"0000644\0");
    field(108, b"0000000\0");
    field(116, b"0000000\0");
    field(124, format!("{:011o}\0", contents.len()).as_bytes());
    field(136, b"00000000000\0");
    field(148, b"        "); // the checksum counts its own field as spaces
    field(156, b"0");
    field(257, b"ustar\0");
    field(263, b"00");
    let checksum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());

    let mut tar = header.to_vec();
    tar.extend_from_slice(contents);
    tar.resize(tar.len().next_multiple_of(512), 0);
    tar.resize(tar.len() + 1024, 0); // two zero blocks end the archive
    tar
}

/// gzip made of stored (uncompressed) deflate blocks: valid for every reader, and
/// deterministic. skopeo compresses uncompressed layers on their way to a registry,
/// which would change the manifest digest the test checks; a gzip layer is copied as is.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(u16::MAX as usize).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Writes an OCI image layout with one single-layer image tagged `tag`, and returns the
/// digest of its manifest, which a registry must serve unchanged after a copy.
pub fn write_layout(dir: &Path, tag: &str, file_contents: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &[u8]| {
        let digest = sha256(bytes);
        fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        json!({"digest": digest, "size": bytes.len()})
    };

    let tar = tar_with_file("hello.txt", file_contents);
    let layer = blob(&gzip(&tar));
    let config = blob(
        json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
        })
        .to_string()
        .as_bytes(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config["digest"], "size": config["size"]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer["digest"], "size": layer["size"]}],
    })
    .to_string();
    let manifest_ref = blob(manifest.as_bytes());

    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_ref["digest"],
            "size": manifest_ref["size"],
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_ref["digest"].as_str().unwrap().to_owned()
}

#[test]
fn gzip_and_tar_are_what_the_real_tools_read() {
    let dir = tempfile::tempdir().unwrap();
    let tar = tar_with_file("hello.txt", b"hello\n");
    fs::write(dir.path().join("x.tar.gz"), gzip(&tar)).unwrap();
    let listing = std::process::Command::new("tar")
        .args(["-xzOf", "x.tar.gz", "hello.txt"])
        .current_dir(dir.path())
        .output()
        .expect("tar is required");
    assert!(listing.status.success(), "{listing:?}");
    assert_eq!(listing.stdout, b"hello\n");
}
