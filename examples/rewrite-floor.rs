//! The I/O floor of an atomic in-place rewrite, for the benchmark: reads every HTML file under a
//! folder and writes it back unchanged the way rendorix writes a signed page (temporary file in
//! the same folder, permissions and modification time set, renamed over the original), on all
//! cores, without parsing. `rendorix sign` minus this is the cost of the work itself.
//!
//!     cargo run --release --example rewrite-floor -- DIR

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::PathBuf;

use rayon::prelude::*;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: rewrite-floor DIR"));
    let pages: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && rendorix::site::is_html(e.path()))
        .map(walkdir::DirEntry::into_path)
        .collect();
    pages
        .par_iter()
        .try_for_each_init(Vec::new, |buf: &mut Vec<u8>, path| {
            let mut file = File::open(path)?;
            let meta = file.metadata()?;
            buf.clear();
            file.read_to_end(buf)?;
            let temp = path.with_file_name(format!(
                ".{}.floor.tmp",
                path.file_name().unwrap().to_string_lossy()
            ));
            let mut out = File::create(&temp)?;
            out.write_all(buf)?;
            out.set_permissions(meta.permissions())?;
            out.set_modified(meta.modified()?)?;
            fs::metadata(path)?;
            fs::rename(&temp, path)
        })
}
