//! The checks made before anything of a container exists, in one place: the server
//! runs [`check_spec`] before it takes a slot, and every create runs [`preflight`].

use std::path::Path;

use isolab_shared::{ContainerSpec, HOST_IMAGE};

use super::state;
use super::{RuntimeConfig, RuntimeError};

/// Checks a spec against this host without changing anything: its fields, that the
/// kernel has its namespaces, that its image exists. The server calls it before it
/// takes a slot; every create runs it again through [`preflight`].
pub fn check_spec(spec: &ContainerSpec) -> Result<(), RuntimeError> {
    spec.validate()?;
    // `userns: auto` adds a user namespace, which the kernel must have too.
    for kind in spec.effective_namespaces().iter() {
        // lstat: the link's presence says the kernel has the kind; following it into
        // nsfs would cost more than the rest of this check.
        if std::fs::symlink_metadata(Path::new("/proc/self/ns").join(kind.name())).is_err() {
            return Err(RuntimeError::NamespaceUnsupported(kind));
        }
    }
    if spec.image != HOST_IMAGE && !Path::new(&spec.image).is_dir() {
        return Err(RuntimeError::ImageMissing(spec.image.clone()));
    }
    Ok(())
}

/// Checks what can fail before anything is created.
pub(super) fn preflight(config: &RuntimeConfig, spec: &ContainerSpec) -> Result<(), RuntimeError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(RuntimeError::NotRoot);
    }
    check_spec(spec)?;
    if let Some(name) = &spec.name {
        if state::list(&config.state_root)
            .iter()
            .any(|r| &r.name == name)
        {
            return Err(RuntimeError::NameTaken(name.clone()));
        }
    }
    Ok(())
}
