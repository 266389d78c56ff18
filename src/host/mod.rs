//! The host readers: everything driftless learns about the machine it runs on, one concept per
//! file, shared by the built-in facts ([`crate::facts`]), the metric collectors
//! ([`crate::metrics`]) and the resources ([`crate::apply`]).
//!
//! - [`procfs`]: the small-file readers and number parsers everything below uses.
//! - [`stat`] (`/proc/stat`), [`boot`] (boot time, uptime), [`meminfo`], [`cpuinfo`],
//!   [`process`] (`/proc/<pid>/*`), [`mounts`] (mount table, `statfs`), [`mountinfo`] (what
//!   is mounted where, as this process sees it).
//! - [`sysctl`]: kernel parameters (`/proc/sys`).
//! - [`proc_net`]: ARP table, conntrack, softnet and UDP queues (`/proc/net`); [`bonding`]:
//!   bonded interfaces; [`mdstat`]: software RAID; [`cpufreq`]: CPU frequencies and
//!   scheduler statistics; [`hwmon`]: sensor chips; [`thermal`]: thermal zones, cooling
//!   devices and EDAC memory controllers; [`powercap`]: RAPL energy counters and NVMe
//!   controllers; [`power_supply`]: batteries and mains; [`timex`]: the kernel clock's discipline
//!   (`adjtimex`); [`selinux`]: SELinux's state.
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
pub mod bonding;
pub mod boot;
pub mod cpufreq;
pub mod cpuinfo;
pub mod dpkg;
pub mod hwmon;
pub mod identity;
pub mod login;
pub mod mdstat;
pub mod meminfo;
pub mod mountinfo;
pub mod mounts;
pub mod netlink;
pub mod os_release;
pub mod path_stat;
pub mod power_supply;
pub mod powercap;
pub mod proc_net;
pub mod process;
pub mod procfs;
pub mod routes;
pub mod selinux;
pub mod stat;
pub mod sysctl;
pub mod sysfs;
pub mod tags;
pub mod thermal;
pub mod timex;
pub mod users;
pub mod virtualization;
