//! The ClickHouse rendering of the funnel algorithm (see [`super::funnel_sql`]): each person's
//! events as one sorted array, one pass of array functions per step. ClickHouse 18.16 has no
//! window functions and no `arrayFold`, and lambdas that capture an array copy it per element,
//! so "the latest defined value strictly before each row" is computed without captures: the
//! rows (key `2t`) and the defined values' deltas (key `2t' + 1`) are merged by one `arraySort`
//! and summed by `arrayCumSum`. Each step is its own subquery layer, which keeps ClickHouse's
//! alias expansion linear in the number of steps.

use super::QueryError;
use super::funnel::{FunnelMode, FunnelQuery};

/// Stacks `SELECT *, <new columns> FROM (<previous>)` layers.
struct Layers {
    rel: String,
}

impl Layers {
    fn add(&mut self, cols: &[String]) {
        self.rel = format!("SELECT *, {} FROM ({})", cols.join(", "), self.rel);
    }
}

/// Sorted merge of the rows of `t` (ascending; key `2t`) with the deltas of the defined values
/// of `v` (-1 = undefined; key `2t' + 1`, or `2t'` when `inclusive`). See [`pick`].
fn merged(t: &str, v: &str, inclusive: bool) -> String {
    let d = format!("arrayFilter(x -> x >= 0, {v})");
    let dt = format!("arrayFilter((a, x) -> x >= 0, {t}, {v})");
    let dv = format!("arrayPopFront(arrayDifference(arrayPushFront({d}, toInt64(0))))");
    let ddt = format!("arrayPopFront(arrayDifference(arrayPushFront({dt}, toInt64(0))))");
    let (qk, ck) = if inclusive {
        ("a * 2 + 1", "a * 2")
    } else {
        ("a * 2", "a * 2 + 1")
    };
    format!(
        "arraySort(arrayConcat(arrayMap(a -> ({qk}, toInt64(0), toInt64(0), 1), {t}), \
         arrayMap((a, x, y) -> ({ck}, x, y, 0), {dt}, {dv}, {ddt})))"
    )
}

/// From a [`merged`] column `m`, aligned with the rows: the latest defined value strictly
/// before each row (0 when none) and that row's time (0 when none).
fn pick(m: &str) -> (String, String) {
    let p = |c: usize| format!("arrayFilter((s, m) -> m.4 = 1, arrayCumSum(arrayMap(m -> m.{c}, {m})), {m})");
    (p(2), p(3))
}

fn greatest(items: &[String]) -> String {
    match items {
        [] => "0".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("greatest({first}, {})", greatest(rest)),
    }
}

pub(crate) fn ch_per_person(q: &FunnelQuery, n: usize, base: &str, w: i64) -> Result<String, QueryError> {
    let bit = |i: usize| 1u64 << (i - 1);
    let steps_mask: String = (1..=n)
        .map(|i| format!("s{i} * {}", bit(i)))
        .collect::<Vec<_>>()
        .join(" + ");
    let excl_mask = if q.exclusions.is_empty() {
        "0".to_string()
    } else {
        (1..=q.exclusions.len())
            .map(|e| format!("x{e} * {}", bit(e)))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let mut l = Layers {
        rel: format!(
            "SELECT person, arraySort(groupArray((toInt64(ts), bdv, toUInt64({steps_mask}), toUInt64({excl_mask})))) AS _f_ev \
             FROM ({base}) GROUP BY person"
        ),
    };
    let step = |i: usize| format!("arrayMap(e -> bitAnd(e.3, {}) != 0, _f_ev)", bit(i));
    l.add(&["arrayMap(e -> e.1, _f_ev) AS _f_t".into()]);
    let times: String = (2..=n).map(|k| format!(", t{k}")).collect();
    let bd = "tupleElement(arrayFirst(e -> bitAnd(e.3, 1) != 0, _f_ev), 2) AS bd".to_string();
    if q.mode == FunnelMode::AnyOrder {
        // Next time of step i at or after each row = "latest at or before" on the reversed,
        // negated time axis, carrying the time itself (the marker, a negated time, is never 0).
        l.add(&["arrayReverse(arrayMap(a -> -a, _f_t)) AS _f_axis".into()]);
        let ms: Vec<String> = (1..=n)
            .map(|i| {
                let rv = format!(
                    "arrayMap((a, s) -> if(s, a, toInt64(-1)), arrayReverse(_f_t), arrayReverse({}))",
                    step(i)
                );
                format!("{} AS _f_n{i}_m", merged("_f_axis", &rv, true))
            })
            .collect();
        l.add(&ms);
        let rev: Vec<String> = (1..=n)
            .flat_map(|i| {
                let (v, at) = pick(&format!("_f_n{i}_m"));
                [
                    format!("arrayReverse({v}) AS _f_nx{i}"),
                    format!("arrayReverse({at}) AS _f_nh{i}"),
                ]
            })
            .collect();
        l.add(&rev);
        let args: Vec<String> = (1..=n).map(|i| format!("_f_nx{i}, _f_nh{i}")).collect();
        let params: Vec<String> = (1..=n).map(|i| format!("nx{i}, nh{i}")).collect();
        let cnt: Vec<String> = (1..=n)
            .map(|i| format!("(nh{i} != 0 AND nx{i} - t <= {w})"))
            .collect();
        let span: Vec<String> = (1..=n).map(|i| format!("nx{i}")).collect();
        l.add(&[
            format!(
                "arrayMap((t, e, {}) -> if(e.3 != 0, {}, 0), _f_t, _f_ev, {}) AS _f_cnt",
                params.join(", "),
                cnt.join(" + "),
                args.join(", ")
            ),
            format!(
                "arrayMap((t, {}) -> {} - t, _f_t, {}) AS _f_span",
                params.join(", "),
                greatest(&span),
                args.join(", ")
            ),
        ]);
        l.add(&["toInt64(arrayReduce('max', _f_cnt)) AS lvl".into()]);
        let mut last: Vec<String> = (2..n)
            .map(|k| format!("CAST(NULL AS Nullable(Int64)) AS t{k}"))
            .collect();
        last.push(format!(
            "if(lvl = {n}, toNullable(arrayFirst((s, c) -> c = {n}, _f_span, _f_cnt)), NULL) AS t{n}"
        ));
        last.push(bd);
        l.add(&last);
        return Ok(format!("(SELECT person, lvl{times}, bd FROM ({}))", l.rel));
    }
    let strict = q.mode == FunnelMode::Strict;
    l.add(&["arrayMap(e -> if(bitAnd(e.3, 1) != 0, e.1, toInt64(-1)), _f_ev) AS _f_b1".into()]);
    // Layer per step j: pick level j's "latest before" from its merge, compute level j+1 and
    // its merge (aliases within one layer; a layer per step keeps the AST linear).
    let mut first = Vec::new();
    let mut second = Vec::new();
    for e in 1..=q.exclusions.len() {
        let xv = format!(
            "arrayMap(e -> if(bitAnd(e.4, {}) != 0, e.1, toInt64(-1)), _f_ev)",
            bit(e)
        );
        first.push(format!("{} AS _f_lx{e}_m", merged("_f_t", &xv, false)));
        second.push(format!("{} AS _f_lx{e}", pick(&format!("_f_lx{e}_m")).0));
    }
    if strict {
        first.push(format!("{} AS _f_pt_m", merged("_f_t", "_f_t", false)));
        second.push(format!("{} AS _f_pt", pick("_f_pt_m").0));
    }
    if n > 1 {
        first.push(format!("{} AS _f_p1_m", merged("_f_t", "_f_b1", false)));
    }
    if !first.is_empty() {
        l.add(&first);
    }
    if !second.is_empty() {
        l.add(&second);
    }
    for j in 1..n {
        let (pv, pd) = pick(&format!("_f_p{j}_m"));
        let mut cols = vec![format!("{pv} AS _f_p{j}_v"), format!("{pd} AS _f_p{j}_at")];
        let mut params = vec!["t".to_string(), "s".into(), "pv".into(), "pd".into()];
        let mut args = vec![
            "_f_t".to_string(),
            step(j + 1),
            format!("_f_p{j}_v"),
            format!("_f_p{j}_at"),
        ];
        let mut conds = vec!["s".to_string(), "pd > 0".into(), format!("t - pv <= {w}")];
        for (e, x) in q.exclusions.iter().enumerate() {
            let (a, b) = x.steps(n);
            if a <= j && j < b {
                params.push(format!("lx{}", e + 1));
                args.push(format!("_f_lx{}", e + 1));
                let cmp = if j == a { ">=" } else { ">" };
                conds.push(format!("(lx{0} = 0 OR pd {cmp} lx{0})", e + 1));
            }
        }
        if strict {
            params.push("pt".into());
            args.push("_f_pt".into());
            conds.push("pd = pt".into());
        }
        cols.push(format!(
            "arrayMap(({}) -> if({}, pv, toInt64(-1)), {}) AS _f_b{}",
            params.join(", "),
            conds.join(" AND "),
            args.join(", "),
            j + 1
        ));
        if j + 1 < n {
            cols.push(format!(
                "{} AS _f_p{}_m",
                merged("_f_t", &format!("_f_b{}", j + 1), false),
                j + 1
            ));
        }
        l.add(&cols);
    }
    let reached: Vec<String> = (1..=n)
        .map(|k| format!("arrayExists(x -> x >= 0, _f_b{k})"))
        .collect();
    l.add(&[format!("toInt64({}) AS lvl", reached.join(" + "))]);
    let mut last: Vec<String> = (2..=n)
        .map(|k| {
            format!(
                "if(lvl >= {k}, toNullable(arrayFirst((t, x) -> x >= 0, _f_t, _f_b{k}) - arrayFirst(x -> x >= 0, _f_b{k})), NULL) AS t{k}"
            )
        })
        .collect();
    last.push(bd);
    l.add(&last);
    Ok(format!("(SELECT person, lvl{times}, bd FROM ({}))", l.rel))
}
