//! Reads the kernel's view of processes, namespaces, cgroups and interfaces into
//! `isolab_shared` types.
