//! The pod's facts, read in the same exec as the login test: its GPUs
//! (`nvidia-smi -L`) and the free space of the container disk and of the
//! `/workspace` volume, told apart (a missing or container-disk
//! `/workspace` loses everything on stop).

use super::Facts;

/// The exec stage's command for a full probe: the pod's facts, ending in
/// `true` so its status is the login shell's (a shell that cannot run a
/// command fails before). `/` and `/workspace` apart: a missing
/// /workspace prints no row, one on the container disk shows `/` as its
/// mount point.
pub(super) const FACTS_CMD: &str = "nvidia-smi -L 2>/dev/null | head -n 16; echo ::df; df -Pk / 2>/dev/null; echo ::ws; test -d /workspace && df -Pk /workspace 2>/dev/null; true";

/// Parse the facts command's output.
pub fn parse_facts(out: &str) -> Facts {
    let (gpu, df) = out.split_once("::df").unwrap_or((out, ""));
    if let Some((root, ws)) = df.split_once("::ws") {
        let gpus = gpu
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("GPU "))
            .map(str::to_string)
            .collect();
        let root = df_rows(root);
        let ws = df_rows(ws);
        let on_root = ws.first().is_some_and(|(m, _)| m == "/");
        return Facts {
            gpus,
            root_free: root.iter().find(|(m, _)| m == "/").and_then(|r| r.1),
            workspace_free: ws.first().filter(|_| !on_root).and_then(|r| r.1),
            workspace_missing: ws.is_empty(),
            workspace_on_container_disk: on_root,
        };
    }
    let gpus = gpu
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("GPU "))
        .map(str::to_string)
        .collect();
    let mut f = Facts {
        gpus,
        ..Default::default()
    };
    for l in df
        .lines()
        .skip_while(|l| !l.starts_with("Filesystem"))
        .skip(1)
    {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() >= 6 {
            let avail = cols[3].parse::<u64>().ok().map(|k| k.saturating_mul(1024));
            match cols[5] {
                "/workspace" => f.workspace_free = avail,
                "/" => f.root_free = avail,
                _ => {}
            }
        }
    }
    f
}

/// `(mount point, free bytes)` per row of `df -Pk`.
fn df_rows(out: &str) -> Vec<(String, Option<u64>)> {
    out.lines()
        .skip_while(|l| !l.starts_with("Filesystem"))
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 6).then(|| {
                (
                    cols[5..].join(" "),
                    cols[3].parse::<u64>().ok().map(|k| k.saturating_mul(1024)),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_tell_a_missing_workspace_and_one_on_the_container_disk_apart() {
        let head = "Filesystem 1024-blocks Used Available Capacity Mounted on\n";
        let root = format!("{head}overlay 20971520 1048576 19922944 5% /\n");
        let volume = format!("::df\n{root}::ws\n{head}mfs 104857600 0 104857600 0% /workspace\n");
        let f = parse_facts(&volume);
        assert_eq!(f.root_free, Some(19922944 * 1024));
        assert_eq!(f.workspace_free, Some(104857600 * 1024));
        assert!(!f.workspace_missing && !f.workspace_on_container_disk);

        let missing = parse_facts(&format!("::df\n{root}::ws\n"));
        assert!(missing.workspace_missing);
        assert_eq!(missing.workspace_free, None);
        assert_eq!(missing.root_free, Some(19922944 * 1024));

        let on_disk = parse_facts(&format!("::df\n{root}::ws\n{root}"));
        assert!(on_disk.workspace_on_container_disk && !on_disk.workspace_missing);
        assert_eq!(on_disk.workspace_free, None);
    }

    #[test]
    fn facts() {
        let out = "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-1)\n::df\nFilesystem 1024-blocks Used Available Capacity Mounted on\noverlay 20971520 1048576 19922944 5% /\nmfs 104857600 0 104857600 0% /workspace\n";
        let f = parse_facts(out);
        assert_eq!(f.gpus, ["GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-1)"]);
        assert_eq!(f.root_free, Some(19922944 * 1024));
        assert_eq!(f.workspace_free, Some(104857600 * 1024));
        let none = parse_facts(
            "::df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 50 50 50% /\n",
        );
        assert!(none.gpus.is_empty());
        assert_eq!(none.workspace_free, None);
    }
}
