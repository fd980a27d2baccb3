//! Tests against the real default model (models/fetch.sh puts it in
//! models/). No mock: these load SmolLM2-135M through llama.cpp.

use gdr::config::Config;
use gdr::llm::detect::{Llm, LlmConfig, LlmUse};
use gdr::llm::{LlmError, Manifest};
use gdr::pipeline::{Pipeline, RewritePath};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml")
}

/// One engine for the whole test binary: loading is the slow part.
fn llm() -> &'static Llm {
    static L: OnceLock<Llm> = OnceLock::new();
    L.get_or_init(|| Llm::load_default(&manifest_path()).expect("run models/fetch.sh first"))
}

#[test]
fn manifest_default_model_hash_verifies() {
    let m = Manifest::load(&manifest_path()).unwrap();
    let e = m.entry(None).unwrap();
    assert_eq!(e.name, "smollm2-135m");
    m.verified_file(e).unwrap();
}

#[test]
fn corrupted_copy_is_refused() {
    let m = Manifest::load(&manifest_path()).unwrap();
    let e = m.entry(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A copy of the real model with one byte flipped, under a manifest
    // that pins the real hash.
    let mut bytes = std::fs::read(m.file_of(e)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(dir.path().join(&e.file), &bytes).unwrap();
    std::fs::write(
        dir.path().join("manifest.toml"),
        format!(
            "default = \"x\"\n[[model]]\nname = \"x\"\nfile = \"{}\"\nsha256 = \"{}\"\n",
            e.file.display(),
            e.sha256
        ),
    )
    .unwrap();
    let m2 = Manifest::load(&dir.path().join("manifest.toml")).unwrap();
    let err = m2.verified_file(m2.entry(None).unwrap()).unwrap_err();
    assert!(matches!(err, LlmError::HashMismatch { .. }), "{err}");
    // And the LLM loader refuses it too (prompts are not even reached).
    let err = Llm::load(&LlmConfig {
        manifest: dir.path().join("manifest.toml"),
        ..LlmConfig::default()
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[test]
fn detection_returns_only_substrings() {
    let text = "Yesterday I met Anna Kowalczyk at the Gdansk office of Baltic Freight; \
                she lives at 12 Dluga Street.";
    let (spans, used) = llm().detect(text).unwrap();
    assert_eq!(used, LlmUse::Used);
    eprintln!(
        "llm spans: {:?}",
        spans
            .iter()
            .map(|s| (&*s.entity, &text[s.start..s.end]))
            .collect::<Vec<_>>()
    );
    for s in &spans {
        assert!(
            s.end <= text.len() && text.is_char_boundary(s.start) && text.is_char_boundary(s.end)
        );
        assert_eq!(&*s.detector, "llm");
    }
    // Greedy decoding: the same input gives the same spans.
    let (again, _) = llm().detect(text).unwrap();
    assert_eq!(spans, again);
}

#[test]
fn hallucinated_spans_are_dropped() {
    let text = "Call Maria tomorrow.";
    let json = r#"{"entities": [{"type": "PERSON", "text": "Maria"}, {"type": "PERSON", "text": "Mario Rossi"}, {"type": "PERSON", "text": "maria"}]}"#;
    let spans = llm().parse_spans(json, text, 0);
    assert_eq!(spans.len(), 1);
    assert_eq!(&text[spans[0].start..spans[0].end], "Maria");
}

fn pipeline(budget: Option<u64>) -> Pipeline {
    let cfg = Config::default();
    let p = Pipeline::with_key(&cfg, &[9u8; 32]).unwrap();
    let llm = Llm::load(&LlmConfig {
        manifest: manifest_path(),
        job_budget: budget,
        generative: true,
        ..LlmConfig::default()
    })
    .unwrap();
    p.with_llm(llm)
}

#[test]
fn rewrite_passes_leak_check_or_falls_back() {
    let p = pipeline(None);
    let text = "Karl Strobel called from Vienna about his invoice; Strobel wants it by Friday.";
    let r = p.rewrite(text);
    eprintln!("path {:?} reason {:?}", r.path, r.fallback_reason);
    for leaked in ["Karl", "Strobel", "Vienna"] {
        assert!(
            !r.text.contains(leaked),
            "{leaked} survived via {:?}: {}",
            r.path,
            r.text
        );
    }
    assert!(matches!(
        r.path,
        RewritePath::Generative | RewritePath::Fallback
    ));
    if r.path == RewritePath::Fallback {
        assert!(r.fallback_reason.is_some());
    }
}

#[test]
fn budget_exhaustion_switches_to_rules() {
    // A budget of one token is spent by the first request.
    let p = pipeline(Some(1));
    let text = "We met Kowalczyk at the Gdansk harbour.";
    let first = p.rewrite(text);
    assert!(first.llm.is_some());
    let second = p.rewrite("Then Brzęczyszczykiewicz arrived from Ostrava.");
    assert_eq!(second.llm, Some(LlmUse::BudgetSpent));
    assert_eq!(second.path, RewritePath::Deterministic);
    assert!(!second.text.contains("Brzęczyszczykiewicz"));
}

#[test]
fn budget_goes_to_the_least_explained_records_first() {
    use gdr::llm::detect::expected_gain;
    let texts: Vec<String> = [
        "the weather was fine and the train was on time.",
        "Capitalized words like Wisdom and Grace confuse the rules.",
        "On Monday Wisdom met Grace, Will and Hope near the Mark Hall of Justice.",
    ]
    .map(String::from)
    .to_vec();
    let probe = pipeline(None);
    let gains: Vec<f32> = texts
        .iter()
        .map(|t| expected_gain(t, &probe.detector.detect(t), probe.detector.threshold))
        .collect();
    assert_eq!(gains[0], 0.0, "{gains:?}");
    let best = (1..texts.len())
        .max_by(|&a, &b| gains[a].total_cmp(&gains[b]))
        .unwrap();
    let other = 3 - best;
    // Unlimited: everything is admitted (a text the rules explain is then
    // skipped at detection time).
    assert_eq!(probe.admit(&texts), vec![true, true, true]);
    assert_eq!(probe.rewrite(&texts[0]).llm, Some(LlmUse::Skipped));
    // A budget that fits only the best candidate's estimated cost.
    let llm = probe.llm.as_ref().unwrap();
    let cost = llm.estimate_cost(&texts[best]);
    assert!(llm.estimate_cost(&texts[other]) > 0);
    let p = pipeline(Some(cost));
    let allow = p.admit(&texts);
    assert!(allow[best] && !allow[0], "{allow:?} gains {gains:?}");
    assert!(
        !allow[other] || llm.estimate_cost(&texts[other]) == 0,
        "{allow:?}"
    );
}

#[test]
fn batched_generation_is_reproducible_and_isolates_failures() {
    use gdr::llm::EngineConfig;
    use gdr::llm::detect::DETECT;
    use gdr::llm::engine::Request;
    let texts = [
        "Hi, this is Maria Delgado, my order never arrived at 17 Elm Road.",
        "Patient John Okafor reports chest pain since Monday.",
        "Call me back, ask for Priya at Northwind Traders in Leeds.",
        "The tenant at 5 Harbour Lane, Mr. Duarte, reported a leak.",
        "Yuki Tanaka reported the login issue from the Osaka site.",
    ];
    let load = |parallel| {
        Llm::load(&LlmConfig {
            manifest: manifest_path(),
            engine: EngineConfig {
                parallel,
                ..EngineConfig::default()
            },
            ..LlmConfig::default()
        })
        .unwrap()
    };
    let run = |l: &Llm| {
        let req = |t: &str| {
            let mut r = Request::new(DETECT, t, 64);
            r.grammar = Some(l.grammar().to_string());
            r
        };
        let one_by_one: Vec<String> = texts
            .iter()
            .map(|t| l.engine.generate(req(t)).unwrap().text)
            .collect();
        // Together, plus one request that cannot fit the context: it fails
        // alone, the others are unaffected.
        let mut reqs: Vec<Request> = texts.iter().map(|t| req(t)).collect();
        reqs.insert(2, Request::new(DETECT, "word ".repeat(5000), 64));
        let mut many = l.engine.generate_many(reqs);
        let too_big = many.remove(2);
        assert!(too_big.unwrap_err().to_string().contains("context holds"));
        let many: Vec<String> = many
            .into_iter()
            .map(|g| {
                let g = g.unwrap();
                assert!(g.generated_tokens > 0 && g.cached_tokens > 0);
                g.text
            })
            .collect();
        (one_by_one, many)
    };
    // The default (one request at a time): a set gives exactly what each
    // request gives alone.
    let (alone, many) = run(&load(1));
    assert_eq!(alone, many);
    // Eight slots: a set submitted together is admitted the same way every
    // time, so it reproduces exactly; against one at a time llama.cpp's
    // kernels are not batch-invariant, so only report how many match.
    let l8 = load(8);
    let (alone8, first) = run(&l8);
    let (_, second) = run(&l8);
    assert_eq!(first, second, "a batched set must reproduce");
    assert_eq!(alone8, alone, "one at a time is the same on any engine");
    let same = first.iter().zip(&alone).filter(|(a, b)| a == b).count();
    eprintln!(
        "batched outputs identical to one-at-a-time: {same} of {}",
        alone.len()
    );
}
