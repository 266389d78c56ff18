//! Whether the host is a container or a virtual machine, and which kind.

use std::fs;

use super::{cpuinfo, sysfs};

/// The kind of guest this host is — `kvm`, `qemu`, `vmware`, `virtualbox`, `xen`, `hyperv`,
/// `amazon`, `google`, `docker`, `podman`, `lxc`, `container` (another container runtime) —
/// or `None` on bare metal.
///
/// Container first (a container in a VM is best described as the container), then the
/// hypervisor from DMI, `/sys/hypervisor` and the CPU's `hypervisor` flag.
pub fn guest_kind() -> Option<String> {
    container().or_else(hypervisor)
}

fn container() -> Option<String> {
    if fs::metadata("/.dockerenv").is_ok() {
        return Some("docker".into());
    }
    if fs::metadata("/run/.containerenv").is_ok() {
        return Some("podman".into());
    }
    if let Ok(environ) = fs::read("/proc/1/environ") {
        for var in environ.split(|b| *b == 0) {
            if let Some(value) = var.strip_prefix(b"container=") {
                let value = String::from_utf8_lossy(value).to_ascii_lowercase();
                return Some(match value.as_str() {
                    "docker" | "podman" | "lxc" => value,
                    "lxc-libvirt" => "lxc".into(),
                    _ => "container".into(),
                });
            }
        }
    }
    let cgroup = fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    if cgroup.contains("/docker/") || cgroup.contains("/docker-") {
        return Some("docker".into());
    }
    if cgroup.contains("/lxc/") {
        return Some("lxc".into());
    }
    if cgroup.contains("/kubepods") {
        return Some("container".into());
    }
    None
}

fn hypervisor() -> Option<String> {
    let dmi = ["sys_vendor", "product_name", "bios_vendor"]
        .iter()
        .filter_map(|f| sysfs::dmi(f))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let table = [
        ("kvm", "kvm"),
        ("qemu", "qemu"),
        ("vmware", "vmware"),
        ("virtualbox", "virtualbox"),
        ("innotek", "virtualbox"),
        ("xen", "xen"),
        ("microsoft corporation", "hyperv"),
        ("amazon ec2", "amazon"),
        ("google compute engine", "google"),
        ("openstack", "kvm"),
        ("firecracker", "kvm"),
    ];
    if let Some((_, kind)) = table.iter().find(|(needle, _)| dmi.contains(needle)) {
        return Some((*kind).into());
    }
    if let Some(kind) = sysfs::hypervisor_type() {
        return Some(kind);
    }
    cpuinfo::has_flag(&cpuinfo::read(), "hypervisor").then(|| "kvm".into())
}
