//! The host readers: everything driftless learns about the machine it runs on, one concept per
//! file, shared by the built-in facts ([`crate::facts`]), the metric collectors
//! ([`crate::metrics`]) and the resources ([`crate::apply`]).
//!
//! - [`procfs`]: the small-file readers and number parsers everything below uses.
//! - [`stat`] (`/proc/stat`), [`boot`] (boot time, uptime), [`meminfo`], [`cpuinfo`],
//!   [`process`] (`/proc/<pid>/*`), [`mounts`] (mount table, `statfs`), [`mountinfo`] (what
//!   is mounted where, as this process sees it).
//! - [`sysctl`]: kernel parameters (`/proc/sys`).
//! - [`sysfs`]: `/sys` attributes (network interfaces, DMI, hypervisor, clock source).
//! - [`identity`]: hostname, FQDN, machine id, `uname`; [`os_release`]: the OS;
//!   [`virtualization`]: container or VM.
//! - [`netlink`]: interface counters and properties in one rtnetlink dump; [`addresses`]:
//!   interface addresses (`getifaddrs`); [`routes`]: the default routes.
//! - [`users`]: users and groups through NSS, cached for the process; [`login`]: what
//!   running a program as a user takes (ids, groups, home).
//! - [`dpkg`]: the packages dpkg has installed, from its status file.
//! - [`path_stat`]: what one path is (kind, mode, owner, size, checksum), as Ansible's `stat`
//!   module reports it.

pub mod addresses;
pub mod boot;
pub mod cpuinfo;
pub mod dpkg;
pub mod identity;
pub mod login;
pub mod meminfo;
pub mod mountinfo;
pub mod mounts;
pub mod netlink;
pub mod os_release;
pub mod path_stat;
pub mod process;
pub mod procfs;
pub mod routes;
pub mod stat;
pub mod sysctl;
pub mod sysfs;
pub mod tags;
pub mod users;
pub mod virtualization;
