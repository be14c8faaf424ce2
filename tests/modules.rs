//! The module graph has no cycles: the library's top-level modules (every `crate::x` a module's
//! files name, outside comments, is an edge to `x`), and the command-line tool's modules
//! (`src/bin/attention-playground/`). A cycle makes a module impossible to read, test or move
//! alone; README's "Architecture" gives the order the graph follows.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `path` (or `path` itself).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

/// The names `crate::` leads to in `source`, comments left out: `crate::a::b` gives `a`, and
/// `crate::{a, b::c}` gives `a` and `b`.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let code: String = source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut names = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = &group[..group.find('}').unwrap_or(group.len())];
            for part in inside.split(',') {
                names.insert(ident(part.trim()));
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names.remove("");
    names
}

/// The modules directly under `root` (files and folders) and the edges between them.
fn graph(root: &Path, skip: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if skip.contains(&name.as_str()) || !(path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
            continue;
        }
        modules.insert(name, path);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, path)| {
            let mut edges = BTreeSet::new();
            for file in rust_files(path) {
                edges.extend(crate_paths(&std::fs::read_to_string(&file).unwrap()).into_iter().filter(|t| t != name && names.contains(t)));
            }
            (name.clone(), edges)
        })
        .collect()
}

/// A cycle of `graph`, if it has one (depth-first search).
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_parser_finds_paths_and_groups_and_skips_comments() {
    let found = crate_paths("use crate::a::b;\nuse crate::{c, d::e};\n// crate::f\nlet x = crate::g::h(); // crate::i\n");
    assert_eq!(found, ["a", "c", "d", "g"].iter().map(|s| s.to_string()).collect());
    let cyclic: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a")].iter().map(|(x, y)| (x.to_string(), [y.to_string()].into())).collect();
    assert_eq!(a_cycle(&cyclic).map(|c| c.len()), Some(4));
    let chain: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c")].iter().map(|(x, y)| (x.to_string(), [y.to_string()].into())).collect();
    assert_eq!(a_cycle(&chain), None);
}

#[test]
fn the_library_s_modules_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&root, &["lib", "bin"]);
    assert!(graph.len() > 15, "the modules were found: {:?}", graph.keys());
    assert!(graph["net"].contains("gpu") && graph["blocks"].contains("gpu"), "edges were found: {graph:?}");
    if let Some(cycle) = a_cycle(&graph) {
        panic!("an import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_command_line_tool_s_modules_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/attention-playground");
    let graph = graph(&root, &["main"]);
    assert!(graph.contains_key("apply") && graph.contains_key("render"), "{:?}", graph.keys());
    if let Some(cycle) = a_cycle(&graph) {
        panic!("an import cycle: {}", cycle.join(" -> "));
    }
}
