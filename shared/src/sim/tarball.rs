//! The simulated side of tarballs: the built-in `workshop` image, whose
//! userland is one multi-call binary with a link per command, as the real
//! built-in image has.

use crate::tarball::{Entry, Image, ImageConfig, Layer};

/// The name of the built-in image.
pub const WORKSHOP_IMAGE: &str = "workshop";

/// The multi-call binary every command of the workshop userland links to.
pub const MULTI_CALL_BINARY: &str = "bin/toolbox";

/// The commands of the workshop userland, one link each in `/bin`.
pub const WORKSHOP_COMMANDS: &[&str] = &[
    "sh", "ps", "hostname", "id", "ls", "cat", "echo", "rm", "touch", "mkdir", "sleep", "kill",
    "mount", "ip", "true", "false", "memhog", "cpuburn", "forkbomb",
];

/// The `workshop` image: a base layer with the directory skeleton and the
/// userland, and a config layer with `/etc`.
pub fn workshop_image() -> Image {
    let mut base = vec![];
    for dir in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "var", "var/log",
    ] {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        base.push(Entry::dir(dir, mode));
    }
    base.push(Entry::file(
        MULTI_CALL_BINARY,
        0o755,
        "workshop userland: one program, called by the name of its link\n",
    ));
    for command in WORKSHOP_COMMANDS {
        base.push(Entry::symlink(&format!("bin/{command}"), "toolbox"));
    }

    let etc = vec![
        Entry::file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        Entry::file("etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n"),
        Entry::file(
            "etc/os-release",
            0o644,
            "NAME=\"Anchorage workshop\"\nID=workshop\nPRETTY_NAME=\"Anchorage workshop image\"\n",
        ),
        Entry::file(
            "etc/motd",
            0o644,
            "A container is a process born from a tarball, anchored to namespaces, controlled by cgroups.\n",
        ),
    ];

    Image::new(
        vec![WORKSHOP_IMAGE.to_string()],
        vec![Layer::new(base), Layer::new(etc)],
        ImageConfig {
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            working_dir: "/".into(),
        },
    )
}

/// Whether an image provides a command: a `bin/NAME` entry in some layer
/// not deleted by a later whiteout.
pub fn image_has_command(image: &Image, name: &str) -> bool {
    let path = format!("bin/{name}");
    let mut present = false;
    for layer in &image.layers {
        for entry in &layer.entries {
            if entry.path == path {
                present = true;
            } else if entry.whiteout_target().as_deref() == Some(path.as_str())
                || entry.opaque_dir() == Some("bin")
            {
                present = false;
            }
        }
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workshop_image_has_every_command_and_a_stable_id() {
        let image = workshop_image();
        for command in WORKSHOP_COMMANDS {
            assert!(image_has_command(&image, command), "{command}");
        }
        assert!(!image_has_command(&image, "bash"));
        assert_eq!(image.id, workshop_image().id);
        assert_eq!(image.layers.len(), 2);
    }

    #[test]
    fn a_whiteout_in_a_later_layer_removes_a_command() {
        let mut image = workshop_image();
        image
            .layers
            .push(Layer::new(vec![Entry::file("bin/.wh.ps", 0o644, "")]));
        assert!(!image_has_command(&image, "ps"));
        assert!(image_has_command(&image, "ls"));
    }
}
