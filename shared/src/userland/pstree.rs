//! `pstree`: the processes in sight as a tree, drawn as psmisc's `pstree`
//! draws it (BusyBox has none): each process under its parent, children
//! by name, identical siblings merged as `2*[sleep]`, threads in braces.
//! It reads only `/proc` (each process's `status`, `cmdline` and `task`),
//! so a container sees its own tree and the host sees every one.

use super::inode::{name_of, user_id};
use super::io::Io;
use super::opts::Opts;
use super::text::{Status, usage};
use crate::shell::os::Os;

/// How wide a line may be before it is cut with `+` (psmisc's width when
/// standard output is not a terminal), unless `-l`.
const WIDTH: usize = 132;

struct Node {
    pid: u32,
    ppid: u32,
    uid: u32,
    name: String,
    /// `cmdline`'s words after the first; `None` for a kernel thread or a
    /// zombie, which have none.
    args: Option<Vec<String>>,
    thread: bool,
    children: Vec<usize>,
}

/// The line-drawing pieces: after a name with one child, with several,
/// then before a middle child, a column passing by, the last child, and
/// nothing.
struct Symbols {
    single: &'static str,
    first: &'static str,
    branch: &'static str,
    vert: &'static str,
    last: &'static str,
}

const ASCII: Symbols = Symbols {
    single: "---",
    first: "-+-",
    branch: "|-",
    vert: "| ",
    last: "`-",
};

const UTF8: Symbols = Symbols {
    single: "───",
    first: "─┬─",
    branch: "├─",
    vert: "│ ",
    last: "└─",
};

struct Draw<'a> {
    nodes: &'a [Node],
    symbols: &'a Symbols,
    pids: bool,
    args: bool,
    users: bool,
    compact: bool,
    truncate: bool,
    /// Each level's width and whether a line still passes down it.
    width: Vec<usize>,
    more: Vec<bool>,
    line: String,
    out: String,
    user_names: &'a [(u32, String)],
}

impl Draw<'_> {
    fn put(&mut self, text: &str) {
        self.line.push_str(text);
    }

    fn newline(&mut self) {
        let line = std::mem::take(&mut self.line);
        let count = line.chars().count();
        if self.truncate && count >= WIDTH {
            // The last column left holds the `+`.
            self.out.extend(line.chars().take(WIDTH - 1));
            self.out.push('+');
        } else {
            self.out.push_str(&line);
        }
        self.out.push('\n');
    }

    fn x(&self) -> usize {
        self.line.chars().count()
    }

    /// Whether two subtrees print alike (and so merge).
    fn equal(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.nodes[a], &self.nodes[b]);
        x.name == y.name
            && x.thread == y.thread
            && (!self.users || x.uid == y.uid)
            && x.children.len() == y.children.len()
            && x.children
                .iter()
                .zip(&y.children)
                .all(|(&c, &d)| self.equal(c, d))
    }

    #[allow(clippy::too_many_arguments)]
    fn dump(
        &mut self,
        at: usize,
        level: usize,
        rep: usize,
        leaf: bool,
        last: bool,
        parent_uid: Option<u32>,
        closing: usize,
    ) {
        if !leaf {
            for lvl in 0..level {
                let pad = " ".repeat(self.width[lvl] + 1);
                self.put(&pad);
                let piece = if lvl == level - 1 {
                    if last {
                        self.symbols.last
                    } else {
                        self.symbols.branch
                    }
                } else if self.more[lvl + 1] {
                    self.symbols.vert
                } else {
                    "  "
                };
                self.put(piece);
            }
        }
        let start = self.x();
        if rep >= 2 {
            self.put(&format!("{rep}*["));
        }
        let node = &self.nodes[at];
        let name = node.name.clone();
        let bare = self.args && node.args.is_none() && !node.thread;
        if bare {
            self.put("(");
        }
        self.put(&escape(&name));
        let mut info = Vec::new();
        if self.pids {
            info.push(node.pid.to_string());
        }
        if self.users && parent_uid.is_some_and(|u| u != node.uid) {
            let user = self
                .user_names
                .iter()
                .find(|(u, _)| *u == node.uid)
                .map_or_else(|| node.uid.to_string(), |(_, n)| n.clone());
            info.push(user);
        }
        if self.args {
            // `comm,pid` then the arguments.
            if !info.is_empty() {
                self.put(&format!(",{}", info.join(",")));
            }
            if bare {
                self.put(")");
            }
            // Each word while it fits (four columns kept for `...` but
            // after the last), else `...` and no more.
            if let Some(words) = &node.args {
                let add = if rep >= 2 {
                    rep.to_string().len() + 2
                } else {
                    0
                };
                for (i, word) in words.iter().enumerate() {
                    self.put(" ");
                    let word = escape(word);
                    let keep = if i + 1 == words.len() { 0 } else { 4 };
                    if self.x() + word.len() + keep + add <= WIDTH || !self.truncate {
                        self.put(&word);
                    } else {
                        self.put("...");
                        break;
                    }
                }
            }
        } else if !info.is_empty() {
            self.put(&format!("({})", info.join(",")));
        }
        let uid = node.uid;
        let children = node.children.clone();
        // With arguments each child starts its own line, two columns in.
        let width = if self.args { 1 } else { self.x() - start };
        if self.args || children.is_empty() {
            self.put(&"]".repeat(closing));
            self.newline();
        }
        if self.width.len() <= level {
            self.width.resize(level + 1, 0);
            self.more.resize(level + 1, false);
        }
        self.more[level] = !last;
        self.width[level] = width;
        if !self.args && self.truncate && self.x() >= WIDTH && !children.is_empty() {
            let first = self.symbols.first;
            self.put(first);
            self.put("+");
            self.newline();
            return;
        }
        // Siblings that print alike are drawn once, counted.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for &child in &children {
            // With arguments shown only threads merge.
            let merges = self.compact || (self.args && self.nodes[child].thread && !self.pids);
            match groups
                .iter_mut()
                .find(|(g, _)| merges && self.equal(*g, child))
            {
                Some(group) => group.1 += 1,
                None => groups.push((child, 1)),
            }
        }
        for (i, &(child, count)) in groups.iter().enumerate() {
            let is_last = i + 1 == groups.len();
            if i == 0 && !self.args {
                let joint = if is_last {
                    self.symbols.single
                } else {
                    self.symbols.first
                };
                self.put(joint);
            }
            let close = if is_last { closing } else { 0 } + usize::from(count > 1);
            self.dump(
                child,
                level + 1,
                count,
                i == 0 && !self.args,
                is_last,
                Some(uid),
                close,
            );
        }
    }
}

/// Bytes outside printable ASCII as psmisc writes them: `\ooo`.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if (b' '..=b'~').contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\{byte:03o}"));
        }
    }
    out
}

async fn read_node<O: Os>(io: &mut Io<'_, O>, dir: &str, pid: u32, thread: bool) -> Option<Node> {
    let status = io.slurp(&format!("{dir}/status"), 1 << 16).await.ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    let name = field("Name")?.to_string();
    let ppid = field("PPid")?.parse().ok()?;
    let uid = field("Uid")?.split_whitespace().next()?.parse().ok()?;
    let cmdline = io
        .slurp(&format!("{dir}/cmdline"), 1 << 16)
        .await
        .unwrap_or_default();
    let args = (!cmdline.is_empty()).then(|| {
        cmdline
            .trim_end_matches('\0')
            .split('\0')
            .skip(1)
            .map(str::to_string)
            .collect()
    });
    Some(Node {
        pid,
        ppid,
        uid,
        name,
        args,
        thread,
        children: Vec::new(),
    })
}

pub async fn pstree<O: Os>(io: &mut Io<'_, O>, args: &[String]) -> Status {
    let opts = match Opts::parse(args, "aAclnpsTuU", false) {
        Ok(opts) => opts,
        Err(message) => return usage(io, &message, 1).await,
    };
    let pids = super::proc_pids(io).await;
    let mut nodes: Vec<Node> = Vec::new();
    for pid in pids {
        // A process that ends while it is read is left out.
        let Some(node) = read_node(io, &format!("/proc/{pid}"), pid, false).await else {
            continue;
        };
        let process_name = node.name.clone();
        nodes.push(node);
        if opts.has('T') {
            continue;
        }
        let tasks = io.os.read_dir(&format!("/proc/{pid}/task")).await;
        let mut tids: Vec<u32> = tasks
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.parse().ok())
            .filter(|t| *t != pid)
            .collect();
        tids.sort_unstable();
        for tid in tids {
            let dir = format!("/proc/{pid}/task/{tid}");
            // A thread shows as its process's name in braces (which
            // sort after letters).
            if let Some(mut thread) = read_node(io, &dir, tid, true).await {
                thread.ppid = pid;
                thread.args = None;
                thread.name = format!("{{{process_name}}}");
                nodes.push(thread);
            }
        }
    }
    // The root: a pid named, else the processes of a user named, else
    // init (or whatever has no parent in sight).
    let operand = opts.operands.first().cloned();
    let mut roots: Vec<usize> = Vec::new();
    // Each process's place, by pid (threads are not parents).
    let places: std::collections::HashMap<u32, usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.thread)
        .map(|(i, n)| (n.pid, i))
        .collect();
    let index_of = |_: &[Node], pid: u32| places.get(&pid).copied();
    match &operand {
        Some(arg) if arg.chars().all(|c| c.is_ascii_digit()) => {
            let pid: u32 = arg.parse().unwrap_or(u32::MAX);
            roots.extend(index_of(&nodes, pid));
        }
        Some(user) => {
            let uid = user_id(io, user).await;
            let Some(uid) = uid else {
                // psmisc says it without its name first.
                io.flush().await?;
                let line = format!("No such user name: {user}\n");
                let _ = io.os.write(2, line.as_bytes()).await;
                return Ok(1);
            };
            for (i, n) in nodes.iter().enumerate() {
                let parent_same = index_of(&nodes, n.ppid).is_some_and(|p| nodes[p].uid == uid);
                if n.uid == uid && !n.thread && !parent_same {
                    roots.push(i);
                }
            }
            if roots.is_empty() {
                io.flush().await?;
                let _ = io.os.write(2, b"No processes found.\n").await;
                return Ok(1);
            }
        }
        None => {
            roots.extend(index_of(&nodes, 1));
            if roots.is_empty() {
                roots.extend(
                    (0..nodes.len()).filter(|&i| index_of(&nodes, nodes[i].ppid).is_none()),
                );
            }
        }
    }
    // Children in order: by name (then uid), or with -n by pid.
    for i in 0..nodes.len() {
        if let Some(parent) = index_of(&nodes, nodes[i].ppid).filter(|&p| p != i) {
            nodes[parent].children.push(i);
        }
    }
    let by_pid = opts.has('n');
    for i in 0..nodes.len() {
        let mut children = std::mem::take(&mut nodes[i].children);
        if by_pid {
            children.sort_by_key(|&c| nodes[c].pid);
        } else {
            children.sort_by(|&a, &b| {
                (nodes[a].name.as_str(), nodes[a].uid).cmp(&(nodes[b].name.as_str(), nodes[b].uid))
            });
        }
        nodes[i].children = children;
    }
    // With -s, the root's parents above it.
    if opts.has('s')
        && let Some(&root) = roots.first()
    {
        let mut chain = vec![root];
        while let Some(parent) = index_of(&nodes, nodes[*chain.last().unwrap_or(&root)].ppid)
            .filter(|p| !chain.contains(p))
        {
            chain.push(parent);
        }
        for pair in chain.windows(2) {
            nodes[pair[1]].children = vec![pair[0]];
        }
        roots = vec![*chain.last().unwrap_or(&root)];
    }
    let mut user_names = Vec::new();
    if opts.has('u') {
        let mut uids: Vec<u32> = nodes.iter().map(|n| n.uid).collect();
        uids.sort_unstable();
        uids.dedup();
        for uid in uids {
            if let Some(name) = name_of(io, uid, false).await {
                user_names.push((uid, name));
            }
        }
    }
    // psmisc draws with UTF-8 only on a terminal of a UTF-8 locale; its
    // output read by another program (and a container's, which has no
    // locale) is ASCII. Here ASCII unless -U asks.
    let utf8 = !opts.has('A') && opts.has('U');
    let mut draw = Draw {
        nodes: &nodes,
        symbols: if utf8 { &UTF8 } else { &ASCII },
        pids: opts.has('p'),
        args: opts.has('a'),
        users: opts.has('u'),
        compact: !opts.has('c') && !opts.has('p') && !opts.has('a'),
        truncate: !opts.has('l'),
        width: Vec::new(),
        more: Vec::new(),
        line: String::new(),
        out: String::new(),
        user_names: &user_names,
    };
    for root in roots {
        draw.dump(root, 0, 1, true, true, None, 0);
    }
    let text = draw.out;
    io.put_str(&text).await?;
    io.flush().await?;
    Ok(i32::from(io.failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(pid: u32, ppid: u32, name: &str, children: Vec<usize>) -> Node {
        Node {
            pid,
            ppid,
            uid: 0,
            name: name.into(),
            args: Some(vec![]),
            thread: false,
            children,
        }
    }

    fn drawn(nodes: &[Node], pids: bool) -> String {
        let mut draw = Draw {
            nodes,
            symbols: &ASCII,
            pids,
            args: false,
            users: false,
            compact: !pids,
            truncate: true,
            width: Vec::new(),
            more: Vec::new(),
            line: String::new(),
            out: String::new(),
            user_names: &[],
        };
        draw.dump(0, 0, 1, true, true, None, 0);
        draw.out
    }

    #[test]
    fn siblings_merge_and_brackets_close_at_the_leaf() {
        // bash with two bash children (each with two sleeps), pstree, sh
        // with a sleep, and two sleeps: psmisc's own drawing.
        let nodes = vec![
            node(1, 0, "bash", vec![1, 2, 3, 4, 5, 6]),
            node(2, 1, "bash", vec![7, 8]),
            node(3, 1, "bash", vec![9, 10]),
            node(4, 1, "pstree", vec![]),
            node(5, 1, "sh", vec![11]),
            node(6, 1, "sleep", vec![]),
            node(7, 1, "sleep", vec![]),
            node(8, 2, "sleep", vec![]),
            node(9, 2, "sleep", vec![]),
            node(10, 3, "sleep", vec![]),
            node(11, 3, "sleep", vec![]),
            node(12, 5, "sleep", vec![]),
        ];
        assert_eq!(
            drawn(&nodes, false),
            "bash-+-2*[bash---2*[sleep]]\n     |-pstree\n     |-sh---sleep\n     `-2*[sleep]\n"
        );
        assert!(
            drawn(&nodes, true)
                .starts_with("bash(1)-+-bash(2)-+-sleep(8)\n        |         `-sleep(9)\n")
        );
    }

    #[test]
    fn long_lines_are_cut_with_a_plus() {
        let nodes = vec![node(1, 0, &"x".repeat(140), vec![])];
        let out = drawn(&nodes, false);
        assert_eq!(out.len(), WIDTH + 1);
        assert!(out.ends_with("+\n"));
        assert_eq!(escape("a\tb"), "a\\011b");
    }
}
