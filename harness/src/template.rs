//! Request templates: text with `{{variables}}`, compiled once, rendered per request
//! into a reused buffer (no allocation per request).
//!
//! Variables: `{{seq}}` (a number unique across the run), `{{run}}` (8 hex digits naming
//! this run, the same in every request; ids built from it do not collide with an earlier
//! run's against the same server), `{{uniform:A..B}}` (an integer
//! in `A..=B`), `{{zipf:N:S}}` (a rank in `1..=N`, Zipf exponent `S`), `{{agent}}` (a
//! random id `agent-K` from the scenario's agent pool), `{{amount:A..B}}` (money with two
//! decimals in `A..=B`), `{{ref:NAME}}` (a random value captured by setup step `NAME`).
//!
//! `{{agent}}` and `{{ref:NAME}}` name *one* resource per request: every occurrence in a
//! request's path, headers and body renders the same agent (and the same captured value
//! of `NAME`), so a routing header such as `X-Mabeam-Key: {{ref:auctions}}` names the
//! auction the path bids on. `{{uniform}}`, `{{zipf}}` and `{{amount}}` are drawn afresh
//! at each occurrence (two amounts in one body differ).

use rand::Rng;
use std::io::Write;
use std::sync::Arc;

/// Largest Zipf population (its CDF table is held in memory).
pub const ZIPF_N_MAX: u64 = 1_000_000;

#[derive(Debug, Clone)]
enum Part {
    Text(Box<[u8]>),
    Seq,
    Run,
    Uniform(u64, u64),
    Zipf(Arc<[f64]>),
    Agent,
    Amount(u64, u64),
    Ref(usize),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

/// What rendering needs besides the random source.
#[derive(Debug)]
pub struct Vars<'a> {
    /// The request's unique sequence number.
    pub seq: u64,
    /// Size of the `{{agent}}` pool.
    pub agents: u64,
    /// Values captured by setup steps, by index.
    pub refs: &'a [Vec<String>],
    /// This run's token (`{{run}}`).
    pub run: u32,
    /// The request's own random draw, from which its `{{agent}}` and `{{ref:NAME}}` are
    /// taken (so that every occurrence in one request agrees); see [`Vars::new`].
    pub pick: u64,
}

impl<'a> Vars<'a> {
    /// The variables of request `seq` of run `run`, drawing its `pick` from `rng`.
    pub fn new<R: Rng>(
        seq: u64,
        agents: u64,
        refs: &'a [Vec<String>],
        run: u32,
        rng: &mut R,
    ) -> Self {
        Self {
            seq,
            agents,
            refs,
            run,
            pick: rng.random(),
        }
    }

    /// This request's index into the `len > 0` values captured by setup step `step`: one
    /// per request, independent across steps.
    fn ref_index(&self, step: usize, len: usize) -> usize {
        let mixed = (self.pick ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
        // Multiply-shift: uniform over 0..len without a division.
        ((u128::from(mixed) * len as u128) >> 64) as usize
    }
}

impl Template {
    /// Compiles `text`; errors say which variable is wrong and what is allowed.
    pub fn compile(text: &str, refs: &[String]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest.as_bytes()[..open].into()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed '{{{{' in {text:?}; close it with '}}}}'"))?;
            parts.push(parse_var(after[..close].trim(), refs)?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.as_bytes().into()));
        }
        Ok(Template { parts })
    }

    /// Whether the template has no variables.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Appends the rendered template to `out`.
    pub fn render<R: Rng>(&self, out: &mut Vec<u8>, vars: &Vars<'_>, rng: &mut R) {
        for p in &self.parts {
            // Writing to a Vec cannot fail.
            let _ = match p {
                Part::Text(t) => {
                    out.extend_from_slice(t);
                    Ok(())
                }
                Part::Seq => write!(out, "{}", vars.seq),
                Part::Run => write!(out, "{:08x}", vars.run),
                Part::Uniform(a, b) => write!(out, "{}", rng.random_range(*a..=*b)),
                Part::Zipf(cdf) => write!(out, "{}", zipf_rank(cdf, rng.random::<f64>())),
                Part::Agent => write!(
                    out,
                    "agent-{}",
                    (u128::from(vars.pick) * u128::from(vars.agents.max(1))) >> 64
                ),
                Part::Amount(a, b) => {
                    let cents = rng.random_range(a * 100..=b * 100);
                    write!(out, "{}.{:02}", cents / 100, cents % 100)
                }
                Part::Ref(i) => match vars.refs.get(*i) {
                    Some(list) if !list.is_empty() => {
                        out.extend_from_slice(list[vars.ref_index(*i, list.len())].as_bytes());
                        Ok(())
                    }
                    _ => Ok(()),
                },
            };
        }
    }
}

fn range(spec: &str, var: &str) -> Result<(u64, u64), String> {
    let (a, b) = spec
        .split_once("..")
        .ok_or_else(|| format!("{{{{{var}:{spec}}}}}: write {var}:LOW..HIGH, e.g. {var}:1..100"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{var}: {a:?} is not a non-negative integer"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("{var}: {b:?} is not a non-negative integer"))?;
    if a > b || b > u64::MAX / 200 {
        return Err(format!(
            "{var}:{spec}: LOW must be <= HIGH (and HIGH reasonable)"
        ));
    }
    Ok((a, b))
}

fn parse_var(var: &str, refs: &[String]) -> Result<Part, String> {
    let (name, arg) = var.split_once(':').unwrap_or((var, ""));
    match name {
        "seq" if arg.is_empty() => Ok(Part::Seq),
        "run" if arg.is_empty() => Ok(Part::Run),
        "agent" if arg.is_empty() => Ok(Part::Agent),
        "uniform" => range(arg, "uniform").map(|(a, b)| Part::Uniform(a, b)),
        "amount" => range(arg, "amount").map(|(a, b)| Part::Amount(a, b)),
        "zipf" => {
            let (n, s) = arg
                .split_once(':')
                .ok_or_else(|| format!("{{{{zipf:{arg}}}}}: write zipf:N:S, e.g. zipf:1000:1.1"))?;
            let n: u64 = n
                .parse()
                .map_err(|_| format!("zipf: population {n:?} is not an integer"))?;
            let s: f64 = s
                .parse()
                .map_err(|_| format!("zipf: exponent {s:?} is not a number"))?;
            if n == 0 || n > ZIPF_N_MAX {
                return Err(format!("zipf: population must be 1..={ZIPF_N_MAX}"));
            }
            if !(s.is_finite() && s > 0.0) {
                return Err("zipf: exponent must be positive".to_owned());
            }
            Ok(Part::Zipf(zipf_cdf(n, s)))
        }
        "ref" => refs
            .iter()
            .position(|n| n == arg)
            .map(Part::Ref)
            .ok_or_else(|| {
                format!("{{{{ref:{arg}}}}}: no [[setup]] step named {arg:?} captures values")
            }),
        _ => Err(format!(
            "unknown variable {{{{{var}}}}}; use seq, run, uniform:A..B, zipf:N:S, agent, amount:A..B or ref:NAME"
        )),
    }
}

fn zipf_cdf(n: u64, s: f64) -> Arc<[f64]> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += 1.0 / (k as f64).powf(s);
            acc
        })
        .collect();
    for v in &mut cdf {
        *v /= acc;
    }
    cdf.into()
}

fn zipf_rank(cdf: &[f64], u: f64) -> u64 {
    cdf.partition_point(|c| *c < u) as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn render(t: &str, seq: u64) -> String {
        let refs = vec![vec!["x1".to_owned()]];
        let names = vec!["auctions".to_owned()];
        let tpl = Template::compile(t, names.as_slice()).unwrap();
        let mut out = Vec::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let vars = Vars::new(seq, 10, &refs, 0xab, &mut rng);
        tpl.render(&mut out, &vars, &mut rng);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn agent_and_ref_agree_within_a_request_and_vary_across() {
        let refs = vec![(0..50).map(|i| format!("r{i}")).collect::<Vec<_>>()];
        let names = vec!["things".to_owned()];
        let tpl = Template::compile(
            "{{agent}}/{{ref:things}}|{{agent}}/{{ref:things}}",
            names.as_slice(),
        )
        .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut seen = std::collections::HashSet::new();
        for seq in 0..200 {
            let mut out = Vec::new();
            let vars = Vars::new(seq, 1000, &refs, 7, &mut rng);
            tpl.render(&mut out, &vars, &mut rng);
            let out = String::from_utf8(out).unwrap();
            let (a, b) = out.split_once('|').unwrap();
            assert_eq!(a, b, "one request, one agent and one ref");
            seen.insert(a.to_owned());
        }
        assert!(seen.len() > 150, "requests draw afresh: {}", seen.len());
    }

    #[test]
    fn renders_variables() {
        assert_eq!(render("id-{{seq}}/{{ref:auctions}}", 42), "id-42/x1");
        assert_eq!(render("a-{{run}}-{{seq}}", 5), "a-000000ab-5");
        let a = render("{{amount:1..100}}", 0);
        let (whole, frac) = a.split_once('.').unwrap();
        assert!(
            (1..=100).contains(&whole.parse::<u64>().unwrap()) && frac.len() == 2,
            "{a}"
        );
        assert!(render("{{agent}}", 0).starts_with("agent-"));
        let u: u64 = render("{{uniform:5..7}}", 0).parse().unwrap();
        assert!((5..=7).contains(&u));
        let z: u64 = render("{{ zipf:1000:1.1 }}", 0).parse().unwrap();
        assert!((1..=1000).contains(&z));
    }

    #[test]
    fn zipf_is_skewed() {
        let cdf = zipf_cdf(1000, 1.1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let ones = (0..10_000)
            .filter(|_| zipf_rank(&cdf, rng.random::<f64>()) == 1)
            .count();
        // P(rank 1) = 1/H(1000, 1.1) ~ 0.18
        assert!((1_400..2_300).contains(&ones), "{ones}");
    }

    #[test]
    fn refuses_bad_variables() {
        let names: Vec<String> = Vec::new();
        for bad in [
            "{{nope}}",
            "{{uniform:5}}",
            "{{uniform:9..1}}",
            "{{zipf:0:1}}",
            "{{zipf:10}}",
            "{{ref:x}}",
            "{{seq",
            "{{amount:a..b}}",
        ] {
            assert!(Template::compile(bad, names.as_slice()).is_err(), "{bad}");
        }
    }
}
