//! `readerlab defects`: the defect profiles, the incident each models and
//! the invariant a run with it breaks.

use super::{Outcome, Verdict};
use readerlab_emulator::core::Defect;

/// The flags of `readerlab defects`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the defect profiles.
pub fn run(args: &Args) -> Outcome {
    print!("{}", if args.json { json() } else { table() });
    Ok(Verdict::Holds)
}

/// The table, one defect per row.
pub fn table() -> String {
    let mut out = String::from(
        "defect                          incident     breaks               what goes wrong\n",
    );
    for defect in Defect::ALL {
        let sheet = defect.sheet();
        out.push_str(&format!(
            "{:<31} {:<12} {:<20} {}\n",
            defect.name(),
            sheet.incident.unwrap_or("-"),
            sheet.breaks.to_string(),
            sheet.summary
        ));
    }
    out
}

/// The same as JSON.
pub fn json() -> String {
    let rows: Vec<_> = Defect::ALL
        .iter()
        .map(|d| {
            let sheet = d.sheet();
            serde_json::json!({
                "defect": d.name(),
                "incident": sheet.incident,
                "breaks": sheet.breaks,
                "invariant": sheet.breaks.name(),
                "summary": sheet.summary,
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("plain JSON") + "\n"
}
