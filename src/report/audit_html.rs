//! `rekey audit --output html`: one self-contained page to look at and forward: a
//! summary per account, a chart of the keys' ages (inline SVG), and the findings in a
//! table that sorts (click a heading) and filters (type), each with the controls it
//! fails and the command that fixes it. No external script, style, font or image, and a
//! Content-Security-Policy that allows none, so it opens offline in any browser and
//! sends nothing anywhere. The findings are the ASFF ones (same ids, severities, fixes).
//! The page's address may carry `#filter=TEXT&sort=COLUMN&desc` (what the tests and a
//! shared link use).

use std::fmt::Write;

use super::audit::AuditReport;
use crate::aws::securityhub::AsffFinding;
use crate::engine::audit::AuditedKey;
use crate::time;

/// Key ages the chart counts, in days: [from, to).
const BUCKETS: &[(u64, u64, &str)] = &[
    (0, 30, "< 30 d"),
    (30, 60, "30–60 d"),
    (60, 90, "60–90 d"),
    (90, 180, "90–180 d"),
    (180, 365, "180–365 d"),
    (365, u64::MAX, "> 1 year"),
];

/// The page.
pub(crate) fn page(report: &AuditReport, findings: &[AsffFinding]) -> String {
    let keys: Vec<&AuditedKey> = report.accounts.iter().flat_map(|a| &a.keys).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>rekey audit, {date}</title><style>{STYLE}</style></head><body>\n\
         <h1>rekey audit</h1>\n<p class=\"meta\">{date} · {accounts} · {keys} · {found} · max age {max} d, unused {unused} d{benchmark}</p>\n",
        date = esc(&time::rfc3339(time::now())),
        accounts = crate::report::count(report.accounts.len(), "account"),
        keys = crate::report::count(keys.len(), "key"),
        found = crate::report::count(findings.len(), "finding"),
        max = report.max_age_days,
        unused = report.unused_days,
        benchmark = report
            .benchmark
            .map(|b| format!(" · benchmark {}", esc(&format!("{b:?}").to_uppercase())))
            .unwrap_or_default(),
    );
    accounts(&mut out, report);
    chart(&mut out, &keys);
    table(&mut out, findings, &keys);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn accounts(out: &mut String, report: &AuditReport) {
    out.push_str("<h2>Accounts</h2>\n<table id=\"accounts\"><thead><tr><th>Account</th><th>Keys</th><th>Active</th><th>Past 90 days</th><th>Oldest</th><th>With findings</th><th>Root keys</th><th>Controls passed</th></tr></thead><tbody>\n");
    for account in &report.accounts {
        let name = match &account.name {
            Some(name) if !name.is_empty() => format!("{} ({})", account.account, name),
            _ => account.account.clone(),
        };
        if let Some(error) = &account.error {
            let _ = writeln!(
                out,
                "<tr class=\"error\"><td>{}</td><td colspan=\"7\">NOT AUDITED: {}</td></tr>",
                esc(&name),
                esc(error)
            );
            continue;
        }
        let active = account.keys.iter().filter(|k| k.active).count();
        // Past 90 days as the rule judges it: to the second, not in whole days.
        let ninety = std::time::Duration::from_secs(90 * 86_400);
        let old = (account.keys.iter())
            .filter(|k| k.active && time::since(k.created, time::now()) > ninety)
            .count();
        let oldest = account.keys.iter().map(|k| k.age_days).max();
        let flagged = (account.keys.iter())
            .filter(|k| !k.findings.is_empty())
            .count();
        let passed = (account.compliance.iter())
            .filter(|v| v.status == crate::engine::audit::benchmark::Status::Pass)
            .count();
        let controls = match account.compliance.is_empty() {
            true => "–".to_owned(),
            false => format!("{passed} of {}", account.compliance.len()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{active}</td><td{}>{old}</td><td>{}</td><td>{flagged}</td><td{}>{}</td><td>{controls}</td></tr>",
            esc(&name),
            account.keys.len(),
            if old > 0 { " class=\"bad\"" } else { "" },
            oldest.map_or_else(|| "–".to_owned(), |d| format!("{d} d")),
            if account.root_active_keys > 0 { " class=\"bad\"" } else { "" },
            account.root_active_keys,
        );
    }
    out.push_str("</tbody></table>\n");
}

/// A bar per age bucket of the active keys, past 90 days in red.
fn chart(out: &mut String, keys: &[&AuditedKey]) {
    let counts: Vec<usize> = (BUCKETS.iter())
        .map(|(from, to, _)| {
            (keys.iter())
                .filter(|k| k.active && (*from..*to).contains(&k.age_days))
                .count()
        })
        .collect();
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let (width, height, bar) = (660, 220, 90);
    let _ = write!(
        out,
        "<h2>Active keys by age</h2>\n<svg id=\"ages\" role=\"img\" aria-label=\"Active keys by age\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    for (n, ((from, _, label), count)) in BUCKETS.iter().zip(&counts).enumerate() {
        let tall = (count * 150) / most;
        let x = 20 + n * (bar + 16);
        let y = 180 - tall;
        let colour = match from {
            0..=59 => "#3a7d44",
            60..=89 => "#d9a400",
            _ => "#c0392b",
        };
        let _ = write!(
            out,
            "<g class=\"bar\" data-count=\"{count}\"><title>{label}: {count}</title><rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{tall}\" fill=\"{colour}\"/>\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"middle\">{count}</text><text x=\"{tx}\" y=\"200\" text-anchor=\"middle\">{label}</text></g>",
            tx = x + bar / 2,
            ty = y.saturating_sub(6).max(12),
        );
    }
    out.push_str("</svg>\n");
}

fn table(out: &mut String, findings: &[AsffFinding], keys: &[&AuditedKey]) {
    let _ = write!(
        out,
        "<h2>Findings</h2>\n<p><input id=\"filter\" type=\"search\" placeholder=\"Filter: account, user, key, finding, control…\" size=\"48\"> \
         <span id=\"shown\">{n}</span> of {n} shown; click a heading to sort.</p>\n\
         <table id=\"findings\"><thead><tr><th>Severity</th><th>Account</th><th>User</th><th>Key</th><th>Finding</th><th>Age</th><th>Last used</th><th>Controls</th><th>Fix</th></tr></thead><tbody>\n",
        n = findings.len()
    );
    let mut rows: Vec<(&AsffFinding, Option<&&AuditedKey>)> = (findings.iter())
        .map(|f| {
            let key = (keys.iter()).find(|k| {
                k.account == f.aws_account_id
                    && f.resources.first().is_some_and(|r| r.id == k.key_id)
            });
            (f, key)
        })
        .collect();
    // Most severe first, then oldest.
    rows.sort_by_key(|(f, key)| {
        let age = key.map_or(0, |k| k.age_days);
        (
            std::cmp::Reverse(rank(f.severity.label)),
            std::cmp::Reverse(age),
        )
    });
    for (finding, key) in rows {
        let name = finding
            .product_fields
            .get("rekey/finding")
            .map_or("", String::as_str);
        let user = finding
            .product_fields
            .get("rekey/user")
            .map_or("<root_account>", String::as_str);
        // A key's id, or the kind of another credential (`console_password`).
        let other = finding.product_fields.get("rekey/credential");
        let key_id = key.map_or(other.map_or("", String::as_str), |k| k.key_id.as_str());
        let age = key.map_or(0, |k| k.age_days);
        let used = key.and_then(|k| k.last_used.as_ref());
        let suppressed = finding.workflow.is_some();
        let _ = writeln!(
            out,
            "<tr class=\"finding sev{rank}{muted}\"><td data-sort=\"{rank}\">{label}</td><td>{account}</td><td>{user}</td><td class=\"key\"><code>{key_id}</code></td><td>{what}</td><td data-sort=\"{age}\">{age} d</td><td data-sort=\"{used_sort}\">{used}</td><td>{controls}</td><td class=\"fix\"><code>{fix}</code></td></tr>",
            rank = rank(finding.severity.label),
            muted = if suppressed { " suppressed" } else { "" },
            label = finding.severity.label,
            account = esc(&finding.aws_account_id),
            user = esc(user),
            key_id = esc(key_id),
            what = esc(&format!("{name}{}", if suppressed { " (suppressed)" } else { "" })),
            used_sort = used.map_or(0, |u| time::since(std::time::UNIX_EPOCH, u.date).as_secs()),
            used = used.map_or_else(|| "never".to_owned(), |u| esc(&time::date(u.date))),
            controls = (finding.compliance.related_requirements.iter())
                .map(|r| format!("<span title=\"{}\">{}</span>", esc(r), esc(&short(r))))
                .collect::<Vec<_>>()
                .join(", "),
            fix = esc(&finding.remediation.recommendation.text),
        );
    }
    out.push_str("</tbody></table>\n");
}

/// A requirement as the table shows it: `CIS v3.0 1.14`, `FSBP IAM.3` (the full name
/// is the cell's tooltip).
fn short(requirement: &str) -> String {
    match requirement.split_once('/') {
        Some((standard, id)) if standard.starts_with("CIS") => {
            let version = standard.rsplit(" v").next().unwrap_or_default();
            format!(
                "CIS v{} {id}",
                version.strip_suffix(".0").unwrap_or(version)
            )
        }
        Some((_, id)) => format!("FSBP {id}"),
        None => requirement.to_owned(),
    }
}

fn rank(label: &str) -> u8 {
    match label {
        "CRITICAL" => 5,
        "HIGH" => 4,
        "MEDIUM" => 3,
        "LOW" => 2,
        _ => 1,
    }
}

/// `text` safe inside HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}\
h1{margin:0 0 4px}.meta{color:#555}table{border-collapse:collapse;margin:8px 0 24px}\
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4;cursor:pointer;user-select:none}td code{font-size:12px}\
.key code{white-space:nowrap}.fix{min-width:380px;max-width:560px}.fix code{overflow-wrap:anywhere}.bad{color:#c0392b;font-weight:600}\
.error td{color:#c0392b}.sev5 td:first-child{color:#fff;background:#8e1b10}\
.sev4 td:first-child{background:#e67e22}.sev3 td:first-child{background:#f5c542}\
.sev2 td:first-child{background:#cfe3f5}.suppressed{opacity:.55}svg text{font-size:12px}";

const SCRIPT: &str = r#"(function () {
  var table = document.getElementById("findings"), body = table.tBodies[0];
  var input = document.getElementById("filter"), shown = document.getElementById("shown");
  function rows() { return Array.prototype.slice.call(body.rows); }
  function apply() {
    var q = input.value.toLowerCase(), n = 0;
    rows().forEach(function (r) {
      var hit = r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) n++;
    });
    shown.textContent = n;
  }
  function value(row, col) {
    var cell = row.cells[col];
    return cell.getAttribute("data-sort") || cell.textContent;
  }
  function sortBy(col, desc) {
    var sorted = rows().sort(function (a, b) {
      var x = value(a, col), y = value(b, col), nx = parseFloat(x), ny = parseFloat(y);
      var c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
      return desc ? -c : c;
    });
    sorted.forEach(function (r) { body.appendChild(r); });
    table.setAttribute("data-sorted", col + (desc ? " desc" : ""));
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener("click", function () {
      sortBy(col, table.getAttribute("data-sorted") === String(col));
    });
  });
  input.addEventListener("input", apply);
  var asked = new URLSearchParams(location.hash.slice(1));
  if (asked.get("filter")) input.value = asked.get("filter");
  if (asked.get("sort")) sortBy(Number(asked.get("sort")), asked.has("desc"));
  apply();
  document.body.setAttribute("data-ready", "yes");
})();"#;

#[cfg(test)]
mod tests {
    #[test]
    fn requirements_are_shown_short() {
        let cis = "CIS AWS Foundations Benchmark v3.0.0/1.14";
        assert_eq!(super::short(cis), "CIS v3.0 1.14");
        let fsbp = "AWS Foundational Security Best Practices v1.0.0/IAM.3";
        assert_eq!(super::short(fsbp), "FSBP IAM.3");
    }

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            super::esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
