//! The pod's facts, read in the same exec as the login test: its GPUs
//! (`nvidia-smi -L`) and the free space of the container disk and of the
//! `/workspace` volume, told apart (a missing or container-disk
//! `/workspace` loses everything on stop).

use super::Facts;

/// The exec stage's command for a full probe: the pod's facts, ending in
/// `true` so its status is the login shell's (a shell that cannot run a
/// command fails before). Few processes on the pod: the shell, then
/// `nvidia-smi` only where there is one (`command -v` is a builtin), and
/// one `df` for `/` and `/workspace`: GNU df prints a row per operand in
/// order, none for a missing one, and `/` as the mount point of a
/// `/workspace` on the container disk.
pub(super) const FACTS_CMD: &str = "command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null; echo ::df; df -Pk / /workspace 2>/dev/null; true";

/// GPU lines kept (an 8-GPU pod with MIG slices prints a few more).
const MAX_GPU_LINES: usize = 16;

/// Parse the facts command's output: GPU lines, then after `::df` the row
/// of `/` and, when it exists, the row of `/workspace`.
pub fn parse_facts(out: &str) -> Facts {
    let (gpu, df) = out.split_once("::df").unwrap_or((out, ""));
    let gpus = gpu
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("GPU "))
        .take(MAX_GPU_LINES)
        .map(str::to_string)
        .collect();
    let rows = df_rows(df);
    let root = rows.first().filter(|(m, _)| m == "/");
    let ws = rows.get(usize::from(root.is_some()));
    let on_root = ws.is_some_and(|(m, _)| m == "/");
    Facts {
        gpus,
        root_free: root.and_then(|r| r.1),
        workspace_free: ws.filter(|_| !on_root).and_then(|r| r.1),
        // Only a `df` that printed the row of `/` says `/workspace` is missing.
        workspace_missing: root.is_some() && ws.is_none(),
        workspace_on_container_disk: on_root,
    }
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
        let volume = format!("::df\n{root}mfs 104857600 0 104857600 0% /workspace\n");
        let f = parse_facts(&volume);
        assert_eq!(f.root_free, Some(19922944 * 1024));
        assert_eq!(f.workspace_free, Some(104857600 * 1024));
        assert!(!f.workspace_missing && !f.workspace_on_container_disk);

        // df printed nothing (missing, or failed): nothing is known.
        let unknown = parse_facts("::df\n");
        assert!(!unknown.workspace_missing && unknown.root_free.is_none());

        let missing = parse_facts(&format!("::df\n{root}"));
        assert!(missing.workspace_missing);
        assert_eq!(missing.workspace_free, None);
        assert_eq!(missing.root_free, Some(19922944 * 1024));

        let on_disk = parse_facts(&format!(
            "::df\n{root}overlay 20971520 1048576 19922944 5% /\n"
        ));
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

    /// The command as a login shell runs it, here: `/` has a row, and
    /// `/workspace` is missing exactly when this machine has none.
    #[cfg(unix)]
    #[test]
    fn facts_command_reads_root_and_workspace_in_one_df() {
        let o = std::process::Command::new("sh")
            .args(["-c", FACTS_CMD])
            .output()
            .unwrap();
        assert!(o.status.success());
        let f = parse_facts(&String::from_utf8_lossy(&o.stdout));
        assert!(f.root_free.is_some(), "{f:?}");
        assert_eq!(
            f.workspace_missing,
            !std::path::Path::new("/workspace").is_dir()
        );
    }

    #[test]
    fn at_most_sixteen_gpu_lines_are_kept() {
        let many: String = (0..40).map(|i| format!("GPU {i}: H100\n")).collect();
        assert_eq!(parse_facts(&format!("{many}::df\n")).gpus.len(), 16);
    }
}
