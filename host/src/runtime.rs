//! The Wasmtime side: the engine, the partitioner component, and typed calls into it.
//!
//! One file a concept: the compiled component and its engine ([`compiled`]), a store and the
//! calls into its guest ([`store`]), the host's state of an instance ([`state`]): its devices
//! and the time of a call, the device interface the guest imports ([`device`], with its
//! borrowing write in [`borrowing_write`]), the instance and its partitions ([`instance`]),
//! partition tables ([`table`]), and the WIT types ([`types`]).

mod borrowing_write;
mod compiled;
mod device;
mod instance;
mod state;
mod store;
mod table;
mod types;

// `pub(crate)`: the filesystem reader's bindings (`reader.rs`) reuse its device interfaces.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "partitioner",
        with: { "blockpart:partition/block-device.device": super::state::Device },
        // Looking a device up in the resource table can fail: that must trap, not panic.
        imports: { default: trappable },
    });
}

pub use compiled::Runtime;
pub(crate) use compiled::{Compiled, Exports, constructors};
pub use instance::{Instance, PartitionHandle};
pub(crate) use state::State;
pub(crate) use store::GuestStore;

/// The built-in partitioner component, as built from `components/partitioner/` by `build.rs`.
pub const PARTITIONER_COMPONENT: &[u8] = include_bytes!(env!("BLOCKPART_PARTITIONER_COMPONENT"));

/// The built-in partitioner component, under its name before 0.2.0.
#[deprecated(since = "0.2.0", note = "renamed `PARTITIONER_COMPONENT`")]
pub const GUEST_COMPONENT: &[u8] = PARTITIONER_COMPONENT;

#[cfg(test)]
mod tests {
    use blockpart_core::SectorSize;
    use wasmtime::Engine;
    use wasmtime::component::Component;

    use super::*;
    use crate::{FileDevice, Limits, TICK};

    #[test]
    fn every_call_gets_the_whole_call_time_however_long_the_instance_waited() {
        // Far above what a call takes even on a loaded machine (about a millisecond here), so
        // only a deadline left over from before the wait can stop one.
        let call_time = TICK * 50;
        let runtime = Runtime::new().unwrap().with_limits(Limits {
            call_time,
            ..Limits::default()
        });
        let mut instance = runtime.instantiate().unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(64 * 512).unwrap();
        let disk = FileDevice::open(file.path(), SectorSize::B512, true).unwrap();
        let (first, rest) = instance.connect(8, disk).unwrap();
        for part in [first, rest, first] {
            // Idle far past the limit: time between calls is nobody's.
            std::thread::sleep(call_time * 2);
            instance.info(part).unwrap();
            instance.read_list(part, 0, 512).unwrap();
        }
    }

    #[test]
    fn a_file_that_is_not_a_component_is_refused_in_one_line() {
        let module = b"\0asm\x01\0\0\0";
        for bytes in [
            &b"root:x:0:0:root:/root:/bin/bash\n"[..],
            b"",
            b"\0asm",
            module,
        ] {
            let Err(error) = Runtime::from_component(bytes) else {
                panic!("{bytes:?} loaded");
            };
            let message = format!("{error:#}");
            assert!(!message.contains('\n'), "{bytes:?}: {message}");
        }
    }

    #[test]
    fn guest_imports_only_the_block_device_interface_and_its_types() {
        let engine = Engine::default();
        let component = Component::new(&engine, PARTITIONER_COMPONENT).unwrap();
        let imports: Vec<String> = component
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(
            imports,
            [
                "blockpart:partition/types@0.2.0",
                "blockpart:partition/block-device@0.2.0"
            ]
        );
    }
}
