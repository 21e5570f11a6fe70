//! The programs blockpart's tests run, as `.ci/tools` lists them with their Debian packages.
//!
//! A test asks [`installed`] for each program it runs. On a developer's machine a missing one
//! skips the test with a note naming the package; under `CI=true` it fails the test, because a
//! skip there would be a check that never ran, and `.ci/run` installs every package the list
//! names. A program the list does not name is refused everywhere, so no test can depend on a
//! tool that CI does not install.

use std::path::PathBuf;

pub mod trees;

/// `.ci/tools`: a program and its Debian package a line; `#` starts a comment.
const TOOLS: &str = include_str!("../../.ci/tools");

/// Where `program` is installed: on `PATH`, or in the `sbin` directories a user's `PATH` may
/// leave out (Debian puts sfdisk and mke2fs there). `None`, with a note, if it is missing.
///
/// # Panics
///
/// If `.ci/tools` does not list `program`, or if it is missing and `CI` is `true`.
#[must_use]
pub fn installed(program: &str) -> Option<PathBuf> {
    let package = package(program).unwrap_or_else(|| {
        panic!(
            "{program} is not in .ci/tools: add it there with its Debian package, so CI installs it"
        )
    });
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none_or(|ci| ci != "true"),
            "{program} is not installed (Debian package {package}): under CI=true a test \
             whose program is missing fails; .ci/run installs what .ci/tools lists"
        );
        eprintln!("note: skipped, not installed: {program} (Debian package {package})");
    }
    found
}

/// The Debian package `.ci/tools` gives for `program`.
fn package(program: &str) -> Option<&'static str> {
    TOOLS
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .find_map(|(name, package)| (name == program).then_some(package))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_has_one_package() {
        let listed: Vec<_> = TOOLS
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .filter(|line| !line.trim().is_empty())
            .collect();
        for line in listed {
            assert_eq!(line.split_whitespace().count(), 2, "{line:?}");
        }
        assert_eq!(package("sfdisk"), Some("fdisk"));
        assert_eq!(package("mke2fs"), Some("e2fsprogs"));
    }

    #[test]
    #[should_panic(expected = "not in .ci/tools")]
    fn a_program_not_listed_is_refused() {
        let _ = installed("cowsay");
    }
}
