//! Fixture files: reads the reader profiles in `fixtures/readers/<model>.toml`
//! into a [`ReaderCatalog`], either from the copies compiled into the binary or
//! from a directory on disk.
//!
//! This module sits outside [`crate::core`] because it does I/O (reading files,
//! listing a directory). It must not decide what a profile may say: parsing and
//! every rule live in [`crate::core::profile`], which stays pure. The only rule
//! here is about files: one per model, named after it, and nothing else that
//! looks like a profile.

use std::path::{Path, PathBuf};

use crate::core::DataFileError;
use crate::core::{ReaderModel, ReaderProfile};

/// The profiles compiled into the crate, in [`ReaderModel::ALL`] order (a test
/// checks it), so a binary works without a checkout beside it.
const BUNDLED: [(ReaderModel, &str); 5] = [
    (ReaderModel::M2, include_str!("../../fixtures/readers/m2.toml")),
    (ReaderModel::Wisepad3, include_str!("../../fixtures/readers/wisepad3.toml")),
    (ReaderModel::Chipper2x, include_str!("../../fixtures/readers/chipper2x.toml")),
    (ReaderModel::S700, include_str!("../../fixtures/readers/s700.toml")),
    (ReaderModel::WiseposE, include_str!("../../fixtures/readers/wisepos_e.toml")),
];

/// One validated profile per reader model, in [`ReaderModel::ALL`] order so
/// anything that iterates it (reports, histories) is deterministic.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderCatalog {
    profiles: Vec<ReaderProfile>,
}

impl ReaderCatalog {
    /// The profiles bundled with the crate.
    ///
    /// # Panics
    ///
    /// If a bundled file is broken. That is a bug in this repository, caught by
    /// the tests, not something a caller can recover from.
    ///
    /// Parsed once per process: building a rig and naming a reader in a step
    /// both look profiles up, thousands of times a second in exploration.
    pub fn builtin() -> &'static ReaderCatalog {
        static BUILTIN: std::sync::OnceLock<ReaderCatalog> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(ReaderCatalog::parse_bundled)
    }

    fn parse_bundled() -> ReaderCatalog {
        let profiles = BUNDLED
            .iter()
            .map(|&(model, text)| {
                let file = format!("fixtures/readers/{model}.toml");
                ReaderProfile::from_toml_for(&file, model, text)
                    .unwrap_or_else(|e| panic!("bundled reader profile is broken: {e}"))
            })
            .collect();
        ReaderCatalog::in_model_order(profiles)
    }

    /// Reads `<dir>/<model id>.toml` for every model.
    ///
    /// Any other `*.toml` in `dir` is refused rather than skipped: a misspelt
    /// `wisepose.toml` would otherwise be ignored while its author believes the
    /// emulator uses it. Files with other extensions (a README) are left alone.
    pub fn load_dir(dir: &Path) -> Result<ReaderCatalog, FixtureError> {
        refuse_unknown_models(dir)?;
        let mut profiles = Vec::with_capacity(ReaderModel::ALL.len());
        for model in ReaderModel::ALL {
            let path = dir.join(format!("{}.toml", model.id()));
            let text = std::fs::read_to_string(&path)
                .map_err(|source| FixtureError::Io { path: path.clone(), source })?;
            profiles.push(ReaderProfile::from_toml_for(&path.display().to_string(), model, &text)?);
        }
        Ok(ReaderCatalog::in_model_order(profiles))
    }

    /// The profile of `model`; every catalogue has all of them.
    pub fn get(&self, model: ReaderModel) -> &ReaderProfile {
        let index = ReaderModel::ALL
            .iter()
            .position(|&m| m == model)
            .expect("ReaderModel::ALL lists every model");
        &self.profiles[index]
    }

    /// The profiles in [`ReaderModel::ALL`] order.
    pub fn iter(&self) -> std::slice::Iter<'_, ReaderProfile> {
        self.profiles.iter()
    }

    /// How many profiles: always one per model.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Never true: a catalogue holds every model. Here because `len` is.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// Builds a catalogue from profiles already in model order; `get` relies on it.
    fn in_model_order(profiles: Vec<ReaderProfile>) -> ReaderCatalog {
        let models: Vec<ReaderModel> = profiles.iter().map(|p| p.model).collect();
        assert_eq!(models, ReaderModel::ALL, "reader profiles out of model order");
        ReaderCatalog { profiles }
    }
}

/// Fails on the first (by path, for a stable message) `*.toml` in `dir` whose
/// name is not a model id.
fn refuse_unknown_models(dir: &Path) -> Result<(), FixtureError> {
    let io = |source| FixtureError::Io { path: dir.to_owned(), source };
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        let is_model = path.file_stem().and_then(|s| s.to_str()).and_then(ReaderModel::from_id);
        if is_toml && is_model.is_none() {
            unknown.push(path);
        }
    }
    unknown.sort();
    match unknown.into_iter().next() {
        Some(path) => Err(FixtureError::UnknownModel { path }),
        None => Ok(()),
    }
}

/// The file names `load_dir` expects, for the unknown-model message.
fn expected_files() -> String {
    let names: Vec<String> = ReaderModel::ALL.iter().map(|m| format!("{m}.toml")).collect();
    names.join(", ")
}

/// Why a fixture directory could not be loaded; each variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// A file or the directory could not be read (a missing profile lands here).
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A profile file was read but is not a valid profile.
    #[error(transparent)]
    Profile(#[from] DataFileError),
    /// A `*.toml` file whose name is no reader model.
    #[error("{}: unknown reader model; expected only {}", path.display(), expected_files())]
    UnknownModel {
        /// The offending file.
        path: PathBuf,
    },
}

/// The repository's `fixtures/` directory (reader profiles are in its
/// `readers/`), for tests and tools run from a checkout. Located from this
/// crate's manifest at compile time, so it does not depend on the working
/// directory.
pub fn repo_fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Family, LinkKind, StoreLocation};
    use rstest::rstest;
    use std::io::ErrorKind;

    /// The bundled text of one model's profile.
    fn bundled(model: ReaderModel) -> &'static str {
        BUNDLED.iter().find(|(m, _)| *m == model).expect("bundled").1
    }

    /// A tempdir holding a copy of the bundled profiles, for breaking.
    fn copied_profiles() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (model, text) in BUNDLED {
            std::fs::write(dir.path().join(format!("{model}.toml")), text).expect("write");
        }
        dir
    }

    #[test]
    fn builtin_has_every_model_in_order() {
        let catalog = ReaderCatalog::builtin();
        let models: Vec<ReaderModel> = catalog.iter().map(|p| p.model).collect();
        assert_eq!(models, ReaderModel::ALL);
        assert_eq!(catalog.len(), 5);
        assert!(!catalog.is_empty());
        for model in ReaderModel::ALL {
            assert_eq!(catalog.get(model).model, model);
        }
    }

    #[rstest]
    #[case::m2(ReaderModel::M2, Family::Mobile, StoreLocation::Pos, &[LinkKind::Ble, LinkKind::Usb], false, false, false)]
    #[case::wisepad3(ReaderModel::Wisepad3, Family::Mobile, StoreLocation::Pos, &[LinkKind::Ble, LinkKind::Usb], true, false, false)]
    #[case::chipper2x(ReaderModel::Chipper2x, Family::Mobile, StoreLocation::Pos, &[LinkKind::Ble], false, true, false)]
    #[case::s700(ReaderModel::S700, Family::Smart, StoreLocation::Reader, &[LinkKind::Lan], true, false, true)]
    #[case::wisepos_e(ReaderModel::WiseposE, Family::Smart, StoreLocation::Reader, &[LinkKind::Lan], true, false, true)]
    fn builtin_profiles_follow_the_documented_reader_table(
        #[case] model: ReaderModel,
        #[case] family: Family,
        #[case] offline_store: StoreLocation,
        #[case] links: &[LinkKind],
        #[case] pin_entry: bool,
        #[case] two_phase_proximity: bool,
        #[case] lists_offline: bool,
    ) {
        let catalog = ReaderCatalog::builtin();
        let p = catalog.get(model);
        assert_eq!(p.family, family);
        assert_eq!(p.offline_store, offline_store);
        assert_eq!(p.links, links);
        assert_eq!(p.pin_entry, pin_entry);
        assert_eq!(p.discovery.two_phase_proximity, two_phase_proximity);
        assert_eq!(p.discovery.lists_offline, lists_offline);
        // §7 numbers shared by every model.
        assert_eq!((p.battery.critical_percent, p.battery.low_percent), (5, 20));
        assert_eq!(p.update.min_battery_percent, 50);
        assert_eq!(p.reboot.security_period_h, 24);
    }

    #[test]
    fn the_repository_directory_loads_as_the_builtin_catalog() {
        let loaded = ReaderCatalog::load_dir(&repo_fixtures_dir().join("readers")).expect("loads");
        assert_eq!(&loaded, ReaderCatalog::builtin());
    }

    #[test]
    fn files_that_are_not_toml_are_left_alone() {
        let dir = copied_profiles();
        std::fs::write(dir.path().join("README.md"), "notes").expect("write");
        assert_eq!(&ReaderCatalog::load_dir(dir.path()).expect("loads"), ReaderCatalog::builtin());
    }

    #[test]
    fn a_broken_file_is_named_with_its_key() {
        let dir = copied_profiles();
        let path = dir.path().join("s700.toml");
        let text = bundled(ReaderModel::S700).replace("low_percent = 20", "low_percent = 3");
        std::fs::write(&path, text).expect("write");

        let error = ReaderCatalog::load_dir(dir.path()).expect_err("broken s700");
        let FixtureError::Profile(profile_error) = &error else {
            panic!("expected a profile error, got {error:?}");
        };
        assert_eq!(profile_error.file, path.display().to_string());
        assert_eq!(profile_error.key, "battery.low_percent");
        assert!(error.to_string().starts_with(&path.display().to_string()), "{error}");
    }

    #[test]
    fn a_profile_under_the_wrong_name_is_refused() {
        let dir = copied_profiles();
        std::fs::write(dir.path().join("wisepad3.toml"), bundled(ReaderModel::M2)).expect("write");
        let error = ReaderCatalog::load_dir(dir.path()).expect_err("m2 text in wisepad3.toml");
        let FixtureError::Profile(profile_error) = &error else {
            panic!("expected a profile error, got {error:?}");
        };
        assert_eq!(profile_error.key, "model");
        assert!(profile_error.file.ends_with("wisepad3.toml"), "{error}");
    }

    #[test]
    fn a_missing_profile_names_its_path() {
        let dir = copied_profiles();
        let path = dir.path().join("wisepos_e.toml");
        std::fs::remove_file(&path).expect("remove");

        let error = ReaderCatalog::load_dir(dir.path()).expect_err("wisepos_e missing");
        let FixtureError::Io { path: named, source } = &error else {
            panic!("expected an I/O error, got {error:?}");
        };
        assert_eq!(named, &path);
        assert_eq!(source.kind(), ErrorKind::NotFound);
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    }

    #[test]
    fn a_profile_for_an_unknown_model_is_refused() {
        let dir = copied_profiles();
        let path = dir.path().join("tablet.toml");
        std::fs::write(&path, bundled(ReaderModel::M2)).expect("write");

        let error = ReaderCatalog::load_dir(dir.path()).expect_err("tablet is no model");
        let FixtureError::UnknownModel { path: named } = &error else {
            panic!("expected an unknown-model error, got {error:?}");
        };
        assert_eq!(named, &path);
        let shown = error.to_string();
        assert!(shown.starts_with(&path.display().to_string()), "{shown}");
        assert!(shown.contains("unknown reader model"), "{shown}");
    }

    #[test]
    fn a_missing_directory_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("readers");
        let error = ReaderCatalog::load_dir(&gone).expect_err("no such directory");
        assert!(matches!(&error, FixtureError::Io { path, .. } if path == &gone), "{error:?}");
    }
}
