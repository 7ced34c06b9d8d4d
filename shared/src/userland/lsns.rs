//! `lsns`: the namespaces the processes in sight are in, as util-linux's
//! `lsns` lists them (BusyBox has none): each namespace once, by its
//! inode, with how many processes are in it and the lowest of them. It
//! reads only `/proc`: each process's `ns/*` links, `status` and
//! `cmdline`, so a container sees its own and the host sees all.

use std::collections::BTreeMap;

use super::inode::UserNames;
use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::Os;

/// The kinds, in the order `-t` names them.
pub const KINDS: [&str; 8] = ["mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Ns,
    Type,
    Path,
    NProcs,
    Pid,
    PPid,
    Command,
    Uid,
    User,
}

const COLUMNS: [(&str, Column); 9] = [
    ("NS", Column::Ns),
    ("TYPE", Column::Type),
    ("PATH", Column::Path),
    ("NPROCS", Column::NProcs),
    ("PID", Column::Pid),
    ("PPID", Column::PPid),
    ("COMMAND", Column::Command),
    ("UID", Column::Uid),
    ("USER", Column::User),
];

const DEFAULT: [Column; 6] = [
    Column::Ns,
    Column::Type,
    Column::NProcs,
    Column::Pid,
    Column::User,
    Column::Command,
];

impl Column {
    fn name(self) -> &'static str {
        COLUMNS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| n)
    }

    fn numeric(self) -> bool {
        matches!(
            self,
            Column::Ns | Column::NProcs | Column::Pid | Column::PPid | Column::Uid
        )
    }
}

/// One process as `/proc` shows it.
struct Proc {
    pid: u32,
    ppid: u32,
    uid: u32,
    user: String,
    command: String,
    /// Its namespace of each kind it let us see: kind and inode.
    ns: Vec<(&'static str, u64)>,
}

async fn read_proc<O: Os>(io: &mut Io<'_, O>, users: &mut UserNames, pid: u32) -> Option<Proc> {
    let status = io
        .slurp(&format!("/proc/{pid}/status"), 1 << 16)
        .await
        .ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    let ppid = field("PPid")?.parse().ok()?;
    let uid = field("Uid")?.split_whitespace().next()?.parse().ok()?;
    let name = field("Name").unwrap_or("").to_string();
    let cmdline = io
        .slurp(&format!("/proc/{pid}/cmdline"), 1 << 16)
        .await
        .unwrap_or_default();
    let command = if cmdline.is_empty() {
        name
    } else {
        cmdline.trim_end_matches('\0').replace('\0', " ")
    };
    let mut ns = Vec::new();
    for kind in KINDS {
        if let Ok(link) = io.os.readlink(&format!("/proc/{pid}/ns/{kind}")).await
            && let Some(id) = link
                .strip_prefix(kind)
                .and_then(|r| r.strip_prefix(":["))
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        {
            ns.push((kind, id));
        }
    }
    let user = users.name(io, uid).await;
    Some(Proc {
        pid,
        ppid,
        uid,
        user,
        command,
        ns,
    })
}

/// Every process `/proc` lists, by pid.
async fn processes<O: Os>(io: &mut Io<'_, O>) -> Vec<Proc> {
    let pids = super::proc_pids(io).await;
    let mut procs = Vec::new();
    let mut users = UserNames::default();
    for pid in pids {
        // A process may end while it is read: it is left out.
        if let Some(p) = read_proc(io, &mut users, pid).await {
            procs.push(p);
        }
    }
    procs
}

enum Form {
    Table,
    Raw,
    Json,
}

/// A line of the table: its cells, and the earlier line it hangs under
/// in the tree `COMMAND` draws.
struct Row {
    cells: Vec<String>,
    parent: Option<usize>,
}

/// Lines as libsmartcols prints them: numbers to the right, words to the
/// left, one space between, nothing after the last column, each line
/// under its parent with the tree drawn before its command; `-r` one
/// space and blanks written `\x20`; `-J` objects, children nested. A
/// heading is as wide as its column even when not printed.
fn print_table(columns: &[Column], rows: &[Row], form: &Form, headings: bool) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match row.parent {
            Some(p) => kids[p].push(i),
            None => roots.push(i),
        }
    }
    let mut out = String::new();
    if let Form::Json = form {
        out.push_str("{\n   \"namespaces\": [\n");
        json_level(&mut out, columns, rows, &kids, &roots, 0);
        out.push_str("   ]\n}\n");
        return out;
    }
    // Depth first, each line's drawing before its command.
    let mut order: Vec<(usize, String)> = Vec::new();
    fn walk(
        at: usize,
        prefix: &str,
        art: &str,
        kids: &[Vec<usize>],
        order: &mut Vec<(usize, String)>,
    ) {
        order.push((at, format!("{prefix}{art}")));
        let below = match art {
            "" => prefix.to_string(),
            "├─" => format!("{prefix}│ "),
            _ => format!("{prefix}  "),
        };
        for (i, &kid) in kids[at].iter().enumerate() {
            let art = if i + 1 == kids[at].len() {
                "└─"
            } else {
                "├─"
            };
            walk(kid, &below, art, kids, order);
        }
    }
    for &root in &roots {
        walk(root, "", "", &kids, &mut order);
    }
    let mut lines: Vec<Vec<String>> = Vec::new();
    let head: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    for (at, art) in order {
        lines.push(
            columns
                .iter()
                .zip(&rows[at].cells)
                .map(|(c, v)| match c {
                    Column::Command => format!("{art}{v}"),
                    _ => v.clone(),
                })
                .collect(),
        );
    }
    if let Form::Raw = form {
        if headings {
            out.push_str(&head.join(" "));
            out.push('\n');
        }
        for line in lines {
            let cells: Vec<String> = line.iter().map(|v| raw_escape(v)).collect();
            out.push_str(&cells.join(" "));
            out.push('\n');
        }
        return out;
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            lines
                .iter()
                .chain(std::iter::once(&head))
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    if headings {
        lines.insert(0, head);
    }
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let pad = widths[i] - cell.chars().count();
            if columns[i].numeric() {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if i + 1 < line.len() {
                    text.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// One level of `-J`'s objects: siblings joined `},{`, children in a
/// `children` array six columns in.
fn json_level(
    out: &mut String,
    columns: &[Column],
    rows: &[Row],
    kids: &[Vec<usize>],
    ids: &[usize],
    depth: usize,
) {
    let pad = " ".repeat(6 + 6 * depth);
    let field_pad = " ".repeat(9 + 6 * depth);
    out.push_str(&pad);
    out.push('{');
    for (i, &at) in ids.iter().enumerate() {
        if i > 0 {
            out.push_str(",{");
        }
        out.push('\n');
        let fields: Vec<String> = columns
            .iter()
            .zip(&rows[at].cells)
            .map(|(c, v)| {
                let value = if c.numeric() && v.parse::<u64>().is_ok() {
                    v.clone()
                } else {
                    json_string(v)
                };
                format!("{field_pad}\"{}\": {value}", c.name().to_ascii_lowercase())
            })
            .collect();
        out.push_str(&fields.join(",\n"));
        if !kids[at].is_empty() {
            out.push_str(&format!(",\n{field_pad}\"children\": [\n"));
            json_level(out, columns, rows, kids, &kids[at], depth + 1);
            out.push_str(&field_pad);
            out.push(']');
        }
        out.push('\n');
        out.push_str(&pad);
        out.push('}');
    }
    out.push('\n');
}

/// A cell in `-r`'s form: bytes that are blank, not printable or not
/// ASCII written `\xHH`.
fn raw_escape(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_graphic() && byte != b'\\' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `-o LIST` (or `-o +LIST`, added to the defaults): the columns, or the
/// name that is none.
fn parse_columns(list: &str, default: &[Column]) -> Result<Vec<Column>, String> {
    let (mut columns, list) = match list.strip_prefix('+') {
        Some(rest) => (default.to_vec(), rest),
        None => (Vec::new(), list),
    };
    for name in list.split(',') {
        let column = COLUMNS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| *c)
            .ok_or_else(|| format!("unknown column: {name}"))?;
        columns.push(column);
    }
    Ok(columns)
}

pub async fn lsns<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "Jlno:p:rt:uWT:", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let mut kinds = Vec::new();
    for kind in opts.values('t') {
        match KINDS.iter().find(|k| **k == kind) {
            Some(k) => kinds.push(*k),
            None => {
                io.say(&format!("unknown namespace type: {kind}")).await;
                return Ok(1);
            }
        }
    }
    let task = match opts.value('p').map(str::parse::<u32>) {
        None => None,
        Some(Ok(pid)) => Some(pid),
        Some(Err(_)) => {
            let pid = opts.value('p').unwrap_or("");
            io.say(&format!("invalid PID argument: '{pid}'")).await;
            return Ok(1);
        }
    };
    let wanted = match opts.operands.first().map(|n| n.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            let arg = &opts.operands[0];
            io.say(&format!("invalid namespace argument: '{arg}'"))
                .await;
            return Ok(1);
        }
    };
    if opts.has('T') {
        io.say("-T: namespace trees are not drawn here; lsns lists them (try lsns -o +PPID)")
            .await;
        return Ok(1);
    }
    let default: &[Column] = if wanted.is_some() {
        &[Column::Pid, Column::PPid, Column::User, Column::Command]
    } else {
        &DEFAULT
    };
    let columns = match opts.value('o') {
        Some(list) => match parse_columns(list, default) {
            Ok(columns) => columns,
            Err(message) => {
                io.say(&message).await;
                return Ok(1);
            }
        },
        None => default.to_vec(),
    };
    let form = if opts.has('J') {
        Form::Json
    } else if opts.has('r') {
        Form::Raw
    } else {
        Form::Table
    };
    let procs = processes(io).await;
    // Each namespace: its kind and the processes in it, by inode.
    let mut spaces: BTreeMap<u64, (&str, Vec<usize>)> = BTreeMap::new();
    for (index, p) in procs.iter().enumerate() {
        for (kind, id) in &p.ns {
            spaces
                .entry(*id)
                .or_insert((kind, Vec::new()))
                .1
                .push(index);
        }
    }
    let cell = |column: Column, p: &Proc, id: u64, kind: &str, count: usize| match column {
        Column::Ns => id.to_string(),
        Column::Type => kind.to_string(),
        Column::Path => format!("/proc/{}/ns/{kind}", p.pid),
        Column::NProcs => count.to_string(),
        Column::Pid => p.pid.to_string(),
        Column::PPid => p.ppid.to_string(),
        Column::Command => p.command.clone(),
        Column::Uid => p.uid.to_string(),
        Column::User => p.user.clone(),
    };
    // The tree is drawn in COMMAND: without it the lines are flat.
    let tree = !opts.has('l') && columns.contains(&Column::Command);
    let mut rows: Vec<Row> = Vec::new();
    // The line each process last stood for: a line of a child process
    // hangs under it (util-linux's process tree).
    let mut outline: BTreeMap<u32, usize> = BTreeMap::new();
    let mut add = |p: &Proc, cells: Vec<String>, rows: &mut Vec<Row>| {
        let parent = if tree {
            outline.get(&p.ppid).copied()
        } else {
            None
        };
        outline.insert(p.pid, rows.len());
        rows.push(Row { cells, parent });
    };
    if let Some(id) = wanted {
        let Some((kind, members)) = spaces.get(&id) else {
            io.say(&format!("not found namespace: {id}")).await;
            return Ok(1);
        };
        for &m in members {
            let p = &procs[m];
            let cells = columns
                .iter()
                .map(|&c| cell(c, p, id, kind, members.len()))
                .collect();
            add(p, cells, &mut rows);
        }
    } else {
        for (id, (kind, members)) in &spaces {
            if !kinds.is_empty() && !kinds.contains(kind) {
                continue;
            }
            if task.is_some_and(|t| !members.iter().any(|&m| procs[m].pid == t)) {
                continue;
            }
            // The lowest pid stands for the namespace.
            let Some(&first) = members.iter().min_by_key(|&&m| procs[m].pid) else {
                continue;
            };
            let p = &procs[first];
            let cells = columns
                .iter()
                .map(|&c| cell(c, p, *id, kind, members.len()))
                .collect();
            add(p, cells, &mut rows);
        }
    }
    let text = print_table(&columns, &rows, &form, !opts.has('n'));
    io.put_str(&text).await?;
    io.flush().await?;
    Ok(i32::from(io.failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_as_libsmartcols_does() {
        let columns = [Column::Ns, Column::Type, Column::NProcs, Column::Command];
        let row = |cells: [&str; 4], parent| Row {
            cells: cells.iter().map(|c| c.to_string()).collect(),
            parent,
        };
        let rows = vec![
            row(["4026531835", "cgroup", "66", "sleep 30"], None),
            row(["4026531838", "uts", "1", "sh"], Some(0)),
        ];
        assert_eq!(
            print_table(&columns, &rows, &Form::Table, true),
            "        NS TYPE   NPROCS COMMAND\n\
             4026531835 cgroup     66 sleep 30\n\
             4026531838 uts         1 └─sh\n"
        );
        let alone = [row(["uts", "1", "", ""], None)];
        assert_eq!(
            print_table(&columns[1..3], &alone, &Form::Table, false),
            "uts       1\n"
        );
        assert_eq!(
            print_table(&columns, &rows[..1], &Form::Raw, false),
            "4026531835 cgroup 66 sleep\\x2030\n"
        );
        let flat = [
            row(["4026531835", "cgroup", "", ""], None),
            row(["4026531838", "uts", "", ""], None),
        ];
        assert_eq!(
            print_table(&columns[..2], &flat, &Form::Json, true),
            "{\n   \"namespaces\": [\n      {\n         \"ns\": 4026531835,\n         \"type\": \"cgroup\"\n      },{\n         \"ns\": 4026531838,\n         \"type\": \"uts\"\n      }\n   ]\n}\n"
        );
        assert!(
            print_table(&columns[..1], &rows, &Form::Json, true)
                .contains("\"ns\": 4026531835,\n         \"children\": [\n            {\n               \"ns\": 4026531838\n            }\n         ]\n      }\n")
        );
        assert!(print_table(&columns, &[], &Form::Table, true).is_empty());
    }

    #[test]
    fn columns_are_named_in_any_case_and_added_with_a_plus() {
        let added = parse_columns("+path", &DEFAULT).unwrap();
        assert_eq!(added.len(), 7);
        assert!(added.last() == Some(&Column::Path));
        assert_eq!(parse_columns("ns,Type", &DEFAULT).unwrap().len(), 2);
        assert_eq!(
            parse_columns("FOO", &DEFAULT).err().unwrap(),
            "unknown column: FOO"
        );
    }
}
