//! The image reader composed at build time under the partitioner and the filesystem reader
//! (`READER_ON_IMAGE_COMPONENT`, world `reader-on-image`), run as a third-party host would run
//! it: its own bindings and its own `file`, nothing of this crate's host. One component takes a
//! compressed qcow2 qemu-img made of a disk sfdisk partitioned with an ext4 in it, and hands out
//! the virtual disk, its partition table, and every file of the tree, as the raw disk holds them.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    missing_docs,
    reason = "test code, with small known numbers"
)]

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};

use blockpart_host::READER_ON_IMAGE_COMPONENT;
use blockpart_test_tools::installed;
use blockpart_test_tools::trees::{
    Kind, Node, Tree, assert_same_tree, expected_tree, make_image, make_tree, tools_installed,
};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};

wasmtime::component::bindgen!({
    path: "../components/image-reader/wit",
    world: "reader-on-image",
    with: { "blockpart-image:reader/file.file": TestFile },
});

use exports::blockpart::partition::partition_table::Label;
use exports::blockpart::partition::types::{DeviceError, Error as PartitionError};
use exports::blockpart_fs::reader::filesystem::FileKind;
use exports::blockpart_image::reader::image::Format;

/// The test's image file: the whole file in memory.
pub struct TestFile(Vec<u8>);

#[derive(Default)]
struct Host {
    table: ResourceTable,
}

impl blockpart_image::reader::file::Host for Host {}

impl blockpart_image::reader::file::HostFile for Host {
    fn size(&mut self, file: Resource<TestFile>) -> u64 {
        self.table.get(&file).unwrap().0.len() as u64
    }

    fn read(&mut self, file: Resource<TestFile>, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let bytes = &self.table.get(&file).unwrap().0;
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= bytes.len() as u64);
        end.map(|end| bytes[offset as usize..end as usize].to_vec())
            .ok_or_else(|| format!("{len} bytes at {offset} are past the file"))
    }

    fn drop(&mut self, file: Resource<TestFile>) -> wasmtime::Result<()> {
        self.table.delete(file)?;
        Ok(())
    }
}

/// First sector of the one partition.
const START: u64 = 2048;

/// A raw disk with one partition holding an ext4 of the test tree, and a compressed qcow2 of
/// it: (the qcow2's bytes, the raw disk's, the tree a reader must find).
fn images(dir: &Path) -> Option<(Vec<u8>, Vec<u8>, Tree)> {
    let kind = Kind::Ext("ext4", 4096);
    let qemu = installed("qemu-img")?;
    let sfdisk = installed("sfdisk")?;
    if !tools_installed(kind) {
        return None;
    }
    let tree = dir.join("tree");
    make_tree(&tree, kind);
    let fs = dir.join("fs.img");
    make_image(kind, &tree, &fs);
    let raw = dir.join("disk.raw");
    let sectors = START + kind.size_bytes() / 512 + 2048;
    std::fs::File::create(&raw)
        .unwrap()
        .set_len(sectors * 512)
        .unwrap();
    let mut child = Command::new(sfdisk)
        .arg("-q")
        .arg(&raw)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!("label: dos\n{START},{},L\n", kind.size_bytes() / 512);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .write_all_at(&std::fs::read(&fs).unwrap(), START * 512)
        .unwrap();
    let qcow2 = dir.join("disk.qcow2");
    let status = Command::new(qemu)
        .args(["convert", "-c", "-f", "raw", "-O", "qcow2"])
        .args([&raw, &qcow2])
        .status()
        .unwrap();
    assert!(status.success());
    Some((
        std::fs::read(&qcow2).unwrap(),
        std::fs::read(&raw).unwrap(),
        expected_tree(&tree, kind),
    ))
}

/// An instance of the composed component, with nothing but `file` linked.
fn instantiate() -> (Store<Host>, ReaderOnImage) {
    let engine = Engine::default();
    let component = Component::new(&engine, READER_ON_IMAGE_COMPONENT).unwrap();
    let mut linker = Linker::new(&engine);
    ReaderOnImage::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |host| host).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let stack = ReaderOnImage::instantiate(&mut store, &component, &linker).unwrap();
    (store, stack)
}

/// The virtual disk of `bytes`, opened by the image reader, as the contract's `device`.
fn device(store: &mut Store<Host>, stack: &ReaderOnImage, bytes: Vec<u8>) -> ResourceAny {
    let file = store.data_mut().table.push(TestFile(bytes)).unwrap();
    let image = stack.blockpart_image_reader_image().disk();
    let disk = image.call_open(&mut *store, file, None, None).unwrap();
    let disk = disk.unwrap();
    assert_eq!(image.call_format(&mut *store, disk).unwrap(), Format::Qcow2);
    image.call_device(&mut *store, disk).unwrap()
}

/// Every path under `dir` of `fs`, as the test trees name them.
fn walk(
    store: &mut Store<Host>,
    stack: &ReaderOnImage,
    fs: ResourceAny,
    dir: &[u8],
    out: &mut Tree,
) {
    let files = stack.blockpart_fs_reader_filesystem().filesystem();
    let entries = files.call_list_dir(&mut *store, fs, dir).unwrap().unwrap();
    for entry in entries {
        let mut path = if dir == b"/" {
            b"/".to_vec()
        } else {
            [dir, b"/"].concat()
        };
        path.extend_from_slice(&entry.name);
        let mode = entry.metadata.mode.map(|mode| u32::from(mode) & 0o7777);
        let node = match entry.metadata.kind {
            FileKind::Directory => {
                walk(store, stack, fs, &path, out);
                Node::Dir { mode }
            }
            FileKind::File => {
                let size = entry.metadata.size;
                let content = files
                    .call_read(&mut *store, fs, &path, 0, size)
                    .unwrap()
                    .unwrap();
                Node::File { content, mode }
            }
            FileKind::Symlink => Node::Symlink(
                files
                    .call_read_link(&mut *store, fs, &path)
                    .unwrap()
                    .unwrap(),
            ),
            FileKind::Other => panic!("{path:?} is neither a file, a directory nor a link"),
        };
        out.insert(path, node);
    }
}

#[test]
fn the_composition_imports_only_the_image_file() {
    let engine = Engine::default();
    let component = Component::new(&engine, READER_ON_IMAGE_COMPONENT).unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(imports, ["blockpart-image:reader/file@0.1.0"]);
}

#[test]
fn one_composed_component_takes_a_qcow2_and_hands_out_its_partitions_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some((qcow2, raw, tree)) = images(dir.path()) else {
        return;
    };
    let (mut store, stack) = instantiate();
    let device = device(&mut store, &stack, qcow2);
    let partitions = stack.blockpart_partition_partition().partition();
    let whole = partitions.call_whole(&mut store, device).unwrap().unwrap();
    let info = partitions.call_info(&mut store, whole).unwrap();
    assert!(!info.read_write);
    assert_eq!(info.size_sectors * 512, raw.len() as u64);

    // The virtual disk reads as the raw disk, through the partitioner and the image reader.
    let mut read = Vec::new();
    for sector in (0..info.size_sectors).step_by(8192) {
        let len = (info.size_sectors - sector).min(8192) * 512;
        let bytes = partitions
            .call_read(&mut store, whole, sector, len)
            .unwrap();
        read.extend(bytes.unwrap());
    }
    assert!(read == raw, "the virtual disk differs from the raw disk");

    let tables = stack.blockpart_partition_partition_table();
    let table = tables.call_read(&mut store, whole).unwrap().unwrap();
    assert!(matches!(table.label, Label::Mbr(_)));
    let places: Vec<_> = table.entries.iter().map(|e| (e.number, e.start)).collect();
    assert_eq!(places, [(1, START)]);

    let part = tables.call_open(&mut store, whole, 1).unwrap().unwrap();
    let files = stack.blockpart_fs_reader_filesystem().filesystem();
    let fs = files.call_open(&mut store, part).unwrap().unwrap();
    let mut found = Tree::new();
    walk(&mut store, &stack, fs, b"/", &mut found);
    assert_same_tree(&found, &tree, "the qcow2's ext4 through one component");
}

#[test]
fn the_virtual_disk_refuses_writes_and_keeps_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let Some((qcow2, raw, _)) = images(dir.path()) else {
        return;
    };
    let (mut store, stack) = instantiate();
    let device = device(&mut store, &stack, qcow2);
    let devices = stack.blockpart_partition_block_device().device();
    let sectors = raw.len() as u64 / 512;
    let last = devices
        .call_read(&mut store, device, sectors - 1, 512)
        .unwrap();
    assert_eq!(last.unwrap(), raw[raw.len() - 512..]);
    for (sector, len, error) in [
        (sectors, 512, DeviceError::OutOfBounds),
        (sectors - 1, 1024, DeviceError::OutOfBounds),
        (u64::MAX, 512, DeviceError::OutOfBounds),
        (0, 511, DeviceError::Unaligned),
    ] {
        let refused = devices.call_read(&mut store, device, sector, len).unwrap();
        let refused = refused.unwrap_err();
        assert_eq!(
            format!("{refused:?}"),
            format!("{error:?}"),
            "read {len} at {sector}"
        );
    }
    let refused = devices
        .call_write(&mut store, device, 0, &[0; 512])
        .unwrap();
    assert!(
        matches!(refused, Err(DeviceError::IsReadOnly)),
        "{refused:?}"
    );

    // Through the partitioner, a write is refused before it reaches the device.
    let partitions = stack.blockpart_partition_partition().partition();
    let whole = partitions.call_whole(&mut store, device).unwrap().unwrap();
    let refused = partitions
        .call_write(&mut store, whole, 0, &[0; 512])
        .unwrap();
    assert!(
        matches!(refused, Err(PartitionError::IsReadOnly)),
        "{refused:?}"
    );
}
