//! The crate's layers import only downward, and no two modules import each other, directly or
//! through others (docs/architecture.md). Read from the sources: every `crate::…` path outside
//! comments and unit tests is an import of the module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The top-level modules each top-level module may use (itself included).
const ALLOWED: &[(&str, &[&str])] = &[
    ("core", &["core"]),
    ("page", &["core", "page"]),
    ("site", &["core", "page", "site"]),
    ("config", &["core", "config"]),
    ("report", &["core", "page", "site", "report"]),
    ("error", &["core", "config", "error"]),
    (
        "commands",
        &[
            "core", "page", "site", "config", "report", "error", "commands",
        ],
    ),
    (
        "cli",
        &[
            "core", "page", "site", "config", "report", "error", "commands", "cli",
        ],
    ),
];

/// Every module of the crate (`core::sign`, `site::manifest`, …) and the source it is in,
/// without comments and unit tests.
fn modules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut out,
    );
    out
}

fn collect(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let join = |n: &str| {
            if prefix.is_empty() {
                n.to_owned()
            } else {
                format!("{prefix}::{n}")
            }
        };
        if path.is_dir() {
            collect(&path, &join(&name), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            // The crate root and the binary declare and call everything; test-only modules may
            // use anything they test.
            let root = prefix.is_empty() && matches!(name.as_str(), "lib" | "main");
            if root || matches!(name.as_str(), "tests" | "testing") {
                continue;
            }
            let module = if name == "mod" {
                prefix.to_owned()
            } else {
                join(&name)
            };
            out.insert(module, code_of(&fs::read_to_string(&path).unwrap()));
        }
    }
}

/// `source` without comments and without its `mod tests`.
fn code_of(source: &str) -> String {
    let mut code = String::new();
    for line in source.lines() {
        if line.trim_start() == "mod tests {" {
            break;
        }
        let line = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The paths after each `crate::` in `code`, as segments; a `{…}` group gives one path per
/// member.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        paths.extend(expand(rest, Vec::new()));
    }
    paths
}

/// The paths that `text` (just after `prefix::`) names.
fn expand(text: &str, prefix: Vec<String>) -> Vec<Vec<String>> {
    let ident: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = &text[ident.len()..];
    if ident.is_empty() {
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            return group[..end]
                .split(',')
                .flat_map(|member| expand(member.trim(), prefix.clone()))
                .collect();
        }
        return vec![prefix];
    }
    let mut path = prefix;
    path.push(ident);
    match after.strip_prefix("::") {
        Some(more) => expand(more, path),
        None => vec![path],
    }
}

/// The deepest module of `modules` that `path` lies in.
fn module_of(path: &[String], modules: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    modules
        .iter()
        .map(|(module, code)| {
            let used = crate_paths(code)
                .iter()
                .filter_map(|p| module_of(p, &modules))
                .filter(|m| m != module)
                .collect();
            (module.clone(), used)
        })
        .collect()
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

#[test]
fn every_module_imports_only_its_own_layer_and_those_below() {
    let imports = imports();
    let allowed: BTreeMap<_, _> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, used) in &imports {
        let may = allowed
            .get(top(module))
            .unwrap_or_else(|| panic!("{module}: a top-level module the layer table lacks"));
        for u in used {
            if !may.contains(&top(u)) {
                wrong.push(format!("{module} uses {u}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // The check reads what it should: the commands use every layer below them.
    assert!(imports["commands::sign"].contains("site::worker"));
    assert!(imports["page::scan"].contains("core::policy"));
}

/// Whether `to` can be reached from `from`: a depth-first search, recording the way in `path`.
fn reaches(
    from: &str,
    to: &str,
    imports: &BTreeMap<String, BTreeSet<String>>,
    seen: &mut BTreeSet<String>,
    path: &mut Vec<String>,
) -> bool {
    for next in imports.get(from).into_iter().flatten() {
        path.push(next.clone());
        if next == to || (seen.insert(next.clone()) && reaches(next, to, imports, seen, path)) {
            return true;
        }
        path.pop();
    }
    false
}

#[test]
fn no_modules_import_each_other() {
    let imports = imports();
    for module in imports.keys() {
        let mut path = vec![module.clone()];
        let cycle = reaches(module, module, &imports, &mut BTreeSet::new(), &mut path);
        assert!(!cycle, "import cycle: {}", path.join(" -> "));
    }
}

#[test]
fn paths_are_read_whole_and_by_group() {
    assert_eq!(
        crate_paths("use crate::site::{SiteError, atomic::x};\nlet a = crate::core::time::utc(1);"),
        [
            vec!["site", "SiteError"],
            vec!["site", "atomic", "x"],
            vec!["core", "time", "utc"],
        ]
    );
    assert_eq!(
        code_of("use a; // crate::x\n#[cfg(test)]\nmod tests {\nuse crate::y;"),
        "use a; \n#[cfg(test)]\n"
    );
}
