//! Word-list detection of people and places.
//!
//! Regexes cannot tell "Judy" from "judge"; word lists can, if they also know
//! which names are ordinary English words ("Will", "Grace", "Nice"). Every
//! list lives in one hash map from the lower-cased word to a bit set, so each
//! word of the text costs one lookup. Evidence is combined per run of
//! capitalised words: a title before it ("Dr."), a cue ("my name is"), a known
//! first name followed by another capitalised word, a known surname...
//! Ambiguous words (names that are also common words) need more evidence.

use super::Name;
use super::Span;
use crate::Error;
use std::path::Path;

const FIRST: u16 = 1;
const LAST: u16 = 2;
const CITY: u16 = 4;
const COUNTRY: u16 = 8;
const COMMON: u16 = 16;
const TITLE: u16 = 32;
const PARTICLE: u16 = 64;
/// First word of a multi-word place name: try longer n-grams from here.
const PLACE_PREFIX: u16 = 128;
/// Words after which a capitalised word is very likely a person.
const PERSON_CUE: u16 = 256;
/// Prepositions that make a following place name likely.
const PLACE_CUE: u16 = 512;
/// Words that end an organisation name (Ltd, University...): a run that
/// ends in one is not a person.
const ORG_WORD: u16 = 1024;
/// Street words: a run containing one is an address, not a person.
const STREET_WORD: u16 = 2048;
/// Any lower-case dictionary word, inflections included.
const DICT: u16 = 4096;
/// Never a name on its own (nationality, month...).
const NOT_NAME: u16 = 8192;
/// "the", "a", "an": a capitalised phrase after an article is a title or
/// a thing ("the Princess Royal"), rarely a person's name.
const ARTICLE: u16 = 16384;
/// "Apt", "Suite", "Unit": ends a name run, starts an address.
const UNIT_WORD: u16 = 32768;

/// In `Gazetteers::place_prefixes`: a whole multi-word place name.
const WHOLE_PLACE: u16 = 1;
/// In `Gazetteers::place_prefixes`: the first words of a longer place name.
const LEADS_ON: u16 = 2;

const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "sir",
    "dame",
    "madam",
    "mme",
    "mlle",
    "herr",
    "frau",
    "sr",
    "sra",
    "srta",
    "lord",
    "lady",
    "rev",
    "fr",
    "judge",
    "justice",
    "president",
    "senator",
    "officer",
    "nurse",
    "doctor",
    "mister",
    "missus",
    "uncle",
    "aunt",
];

/// The titles of letters in other languages, also titles: without them
/// "Geachte heer De Vries" left De Vries (no title, no given name before
/// it). Not señora, senhora, signora: streets are named after Our Lady
/// ("R Nossa Senhora Graça 75"). The rewriter strips them from names as
/// it does the English ones.
pub(crate) const SALUTATIONS: &[&str] = &[
    "heer",
    "mevrouw",
    "mevr",
    "dhr",
    "meneer",
    "monsieur",
    "madame",
    "mademoiselle",
    "sig",
    "signor",
    "signorina",
    "dott",
    "señorita",
    "panie",
];

/// Given names that are frequent English words only by a rare lower-case
/// sense ("john", "maria", "peter out"): capitalised, they are the name,
/// so the frequent-word list does not make them ambiguous ("Yesterday John
/// moved" kept John at 0.45, below the threshold). Names whose word sense
/// is common ("Will", "May", "Grace", "Mark", "Bill") stay ambiguous. They
/// stay dictionary words: a lower-case "penny" alone is no name. None is
/// a city ("Warren", "Martin" are: a lower-case city that is no common
/// word is a place candidate).
const NAMES_OVER_WORDS: &[&str] = &[
    "barney", "billy", "bobby", "chuck", "colleen", "daisy", "dolly", "eddy", "hank", "harry",
    "hazel", "heather", "hector", "homer", "iris", "jasmine", "jimmy", "john", "josh", "ken",
    "kitty", "maria", "matt", "mickey", "mike", "nick", "patsy", "patty", "penny", "peter",
    "phoebe", "rick", "robin", "roger", "sally", "sherry", "sonny", "terry", "tom", "tony",
    "victor", "waldo",
];
const PARTICLES: &[&str] = &[
    "van", "der", "den", "de", "da", "von", "del", "della", "la", "le", "di", "du", "dos", "das",
    "do", "bin", "ibn", "al", "el", "ter", "ten", "y", "zu", "st", "st.", "'s",
];
/// Given names in the lists that are also among the 1,000 most frequent
/// words of German, French, Spanish, Italian, Dutch or Portuguese
/// (wordfreq), and so left out of `common_words_intl.txt` to stay names
/// when capitalised ("Les Paul", "Dan Brown"). In lower case they are
/// mostly those words, an article, an adverb, a verb ("les factures",
/// "della casa", "dan komt", "leider nicht"). Of the 151 such names,
/// the ones that are given names in English writing too (michael, paul,
/// bella, vera) are left out.
const FOREIGN_WORD_NAMES: &[&str] = &[
    "les", "della", "dan", "ben", "han", "mai", "ora", "mia", "ella", "hoy", "leider", "mille",
    "davon", "darin", "eben", "beste", "niks", "deja", "tal", "eres", "gusta", "kam", "lage",
    "tage", "bett", "jaren", "versie", "landen", "vorm", "kort", "tien", "cas", "bas", "ami",
    "amico", "cielo", "dessa", "devi", "estes", "giovani", "leva", "levar", "mala", "mei", "mie",
    "nam", "nello", "sai", "sair", "salud", "tali", "tierra", "toma", "tre", "vino", "vero",
    "ville",
];
/// Whether `word` (any case) is in [`FOREIGN_WORD_NAMES`].
fn foreign_word_name(word: &[u8]) -> bool {
    // Every entry is 3 to 7 ASCII letters: most words are out by length.
    (3..=7).contains(&word.len()) && among(word, FOREIGN_WORD_NAMES)
}

/// Words right before a name: "my name is X", "Dear X", "signed X".
const PERSON_CUES: &[&str] = &[
    "name",
    "named",
    "called",
    "dear",
    "hi",
    "hello",
    "hey",
    "thanks",
    "regards",
    "sincerely",
    "cheers",
    "signed",
    "patient",
    "client",
    "customer",
    "employee",
    "user",
    "by",
    "cc",
    "from",
    "to",
    "attn",
    "contact",
    "ask",
    "tell",
    "met",
    "told",
    "with",
    "wife",
    "husband",
    "son",
    "daughter",
    "mother",
    "father",
    "brother",
    "sister",
    "friend",
    "colleague",
    "manager",
    "partner",
    "am",
    "i'm",
    "im",
    "me",
    "is",
    "was",
    "and",
    "mr",
    "mrs",
    "ms",
    "dr",
    "says",
    "said",
    "asks",
    "asked",
    "replied",
    "wrote",
    "writes",
    "thank",
    "meet",
    "spoke",
    "speak",
    "per",
    "ask",
    "for",
    "starring",
];
/// British spellings and the American ones the dictionary lists, tried
/// once each where they occur in a word (`Gazetteers::derives`). The
/// first `BRITISH_COMMON` are the common ones, the only ones a
/// capitalised word is respelled by ("Labour", "Offences"; only when
/// `may_inflect` lets the word through: "Organisation" is not).
const BRITISH: &[(&str, &str)] = &[
    ("our", "or"),
    ("isation", "ization"),
    ("ise", "ize"),
    ("ence", "ense"),
    ("ising", "izing"),
    ("yse", "yze"),
    ("tre", "ter"),
    ("ogue", "og"),
    ("lled", "led"),
    ("lling", "ling"),
    ("aem", "em"),
    ("oed", "ed"),
    ("paed", "ped"),
];
const BRITISH_COMMON: usize = 4;
/// English suffixes that make a word from a word, longest first within
/// each ending so that "-ations" is tried before "-s".
const SUFFIXES_EN: &[&str] = &[
    "ations", "ation", "itions", "ition", "ities", "ity", "nesses", "ness", "ments", "ment",
    "ings", "ing", "ers", "er", "ors", "or", "ied", "ed", "ies", "es", "s", "ally", "ly", "ional",
    "al", "ives", "ive", "ous", "ics", "ic", "isms", "ism", "ists", "ist", "able", "ible", "izes",
    "ize", "ful", "less", "ship", "hood", "ish", "ions", "ion", "ance", "ence", "ant", "ent",
    "ure", "age", "ees", "ee", "ery", "ary", "ory", "ify", "en", "y",
];
/// English prefixes, as whole hyphenated parts ("pre-trial") or glued on
/// ("unlawful", "overbilling").
const PREFIXES: &[&str] = &[
    "un", "in", "im", "il", "ir", "non", "re", "pre", "post", "over", "under", "dis", "mis",
    "anti", "hyper", "hypo", "sub", "super", "inter", "intra", "co", "de", "counter", "out",
    "semi", "multi", "self", "cross", "ex", "mid", "bi", "tri",
];

/// A lower-case word with the ending of a medical term: diseases and
/// procedures ("-emia", "-itis", "-ectomy") and drug stems ("-pril",
/// "-olol", "-statin"). Long enough that a short place name ("Roma") or
/// a given name ("Pauline") does not qualify.
fn medical_term(w: &[u8]) -> bool {
    const ENDINGS: &[&str] = &[
        "emia",
        "aemia",
        "itis",
        "osis",
        "pathy",
        "algia",
        "ectomy",
        "otomy",
        "ostomy",
        "plasty",
        "scopy",
        "graphy",
        "uria",
        "pnea",
        "pnoea",
        "plegia",
        "trophy",
        "megaly",
        "penia",
        "cytosis",
        "statin",
        "pril",
        "olol",
        "sartan",
        "dipine",
        "formin",
        "mab",
        "tinib",
        "azole",
        "cillin",
        "mycin",
        "cycline",
        "prazole",
        "tidine",
        "floxacin",
        "oxacin",
        "parin",
        "gliptin",
        "glitazone",
        "azepam",
        "zolam",
        "triptan",
        "setron",
        "lukast",
        "profen",
        "codone",
        "morphine",
        "pine",
        "ine",
        "ide",
        "vir",
        "amide",
        "azine",
    ];
    w.len() >= 7 && ENDINGS.iter().any(|e| w.ends_with(e.as_bytes()))
}

/// A word of the closed classes (auxiliaries, pronouns, prepositions,
/// conjunctions) or a common verb of speech and motion: after a first
/// name in lower case it starts the sentence's predicate ("mary will
/// call", "kevin said", "sarah and i"), though the surname lists hold
/// many of them.
fn glue_word(w: &[u8]) -> bool {
    const GLUE: &[&str] = &[
        "about", "after", "again", "also", "and", "are", "asked", "back", "been", "before", "but",
        "called", "came", "can", "could", "did", "does", "done", "down", "from", "gave", "gets",
        "going", "gone", "got", "had", "has", "have", "her", "here", "him", "his", "home", "into",
        "just", "knows", "last", "later", "left", "like", "made", "may", "might", "must", "needs",
        "never", "next", "not", "now", "off", "once", "only", "out", "over", "said", "saw", "says",
        "sent", "shall", "she", "should", "since", "soon", "still", "than", "that", "the", "then",
        "there", "they", "this", "told", "too", "took", "under", "until", "very", "wants", "was",
        "went", "were", "what", "when", "where", "who", "will", "with", "would", "wrote", "yet",
        "you",
    ];
    among(w, GLUE)
}

/// Whether a place cue may put a lower-case unknown word in a place:
/// every cue but "of", which is followed by any noun of a domain's own
/// vocabulary ("a history of hyperlipidemia", "the version of kubectl")
/// far more often than by a town written in lower case.
fn lower_place_cue(cue: &str) -> bool {
    !cue.eq_ignore_ascii_case("of")
}

/// Whether lower-case `w` may be an inflection or a British spelling of a
/// word: it ends as one ("-s", "-ed", "-ing") or holds "our", "ise" or
/// "enc" (three of the four `BRITISH_COMMON` spellings; "-isation" alone
/// does not pass). One pass over the word, so that the unknown
/// capitalised words of a text (mostly names) are passed over without a
/// lookup.
fn may_inflect(w: &[u8]) -> bool {
    w.ends_with(b"s")
        || w.ends_with(b"ed")
        || w.ends_with(b"ing")
        || w.windows(3).any(|p| matches!(p, b"our" | b"ise" | b"enc"))
}

/// How many respellings and affixes [`Gazetteers::derives`] takes off a
/// word ("un-lawful-ness"): each step multiplies the lookups.
const DERIVE_DEPTH: u8 = 2;

/// Longest word [`Gazetteers::english_like`] looks at.
const WORD_MAX: usize = 40;

/// `w` with the first `from` in it written `to`, in `buf`; `None` if `w`
/// holds no `from`.
fn respell<'a>(
    w: &[u8],
    from: &[u8],
    to: &[u8],
    buf: &'a mut [u8; WORD_MAX + 8],
) -> Option<&'a [u8]> {
    let at = w.windows(from.len()).position(|x| x == from)?;
    let n = w.len() - from.len() + to.len();
    if n > buf.len() {
        return None;
    }
    buf[..at].copy_from_slice(&w[..at]);
    buf[at..at + to.len()].copy_from_slice(to);
    buf[at + to.len()..n].copy_from_slice(&w[at + from.len()..]);
    Some(&buf[..n])
}

const PLACE_CUES: &[&str] = &[
    "in", "at", "from", "to", "near", "of", "visit", "visited", "visiting", "live", "lives",
    "lived", "born", "moved", "city", "town", "village", "via", "toward", "towards", "into",
    "outside", "around", "across", "through", "left", "reached", "arrived",
];
const ORG_WORDS: &[&str] = &[
    "ltd",
    "ltd.",
    "inc",
    "inc.",
    "llc",
    "gmbh",
    "ag",
    "plc",
    "corp",
    "corp.",
    "corporation",
    "company",
    "group",
    "holdings",
    "bank",
    "university",
    "college",
    "institute",
    "foundation",
    "hospital",
    "clinic",
    "school",
    "academy",
    "association",
    "society",
    "ministry",
    "department",
    "court",
    "council",
    "agency",
    "office",
    "church",
    "club",
    "team",
    "committee",
    "commission",
    "services",
    "solutions",
    "systems",
    "technologies",
    "partners",
    "associates",
    "labs",
    "museum",
    "library",
    "airport",
    "station",
    "hotel",
    "restaurant",
    "cafe",
    "center",
    "centre",
];
/// The street words that end a `street_named` match (rules/location.toml):
/// a capitalised run ending in one is a street, not a person.
const STREET_NAME_ENDS: &[&str] = &[
    "street",
    "avenue",
    "road",
    "boulevard",
    "lane",
    "drive",
    "terrace",
    "crescent",
];
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "st.",
    "avenue",
    "ave",
    "ave.",
    "road",
    "rd",
    "rd.",
    "lane",
    "ln",
    "drive",
    "dr.",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "terrace",
    "square",
    "sq",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "crescent",
    "close",
    "circle",
    "alley",
    "trail",
    "suite",
    "apt",
    "apt.",
    "apartment",
    "unit",
    "floor",
    "rue",
    "via",
    "calle",
    "rua",
    "strasse",
    "straße",
    "weg",
    "straat",
    "laan",
    "plein",
    "gasse",
    "platz",
    "vej",
    "gatan",
    "gata",
    "veien",
    "ulica",
    "utca",
    "út",
    "corner",
];

/// Word lists loaded once at start.
pub struct Gazetteers {
    words: WordTable,
    /// Longest multi-word place name, in words.
    max_place_words: usize,
    /// Every multi-word place name as looked up ("new york"), and each of
    /// its leading word sequences ("rio de" of "rio de janeiro"), so the
    /// search for a longer place stops at the first word that leads to
    /// none instead of trying every length up to `max_place_words`.
    place_prefixes: WordTable,
    /// Original-case lists, for realistic surrogates.
    pub first_names: Vec<String>,
    /// The given names of one gender, as listed (see
    /// [`GazetteerSources::first_name_genders`]).
    pub female_names: Vec<String>,
    pub male_names: Vec<String>,
    pub surnames: Vec<String>,
    pub cities: Vec<String>,
    pub countries: Vec<String>,
    person: Name,
    location: Name,
    address: Name,
    username: Name,
    det_name: Name,
    det_place: Name,
    det_street: Name,
}

/// The word lists as one open-addressing table built for lookups: each
/// slot (16 bytes, four to a cache line) holds a word of up to 12 bytes
/// inline with its flags, so a lookup touches one slot (plus the next on a
/// collision) instead of a hash map's control bytes, entry and boxed key.
/// Longer words live in `long`, an arena the slot points into. Every word
/// of every text is looked up, so this is most of the word lists' cost.
struct WordTable {
    slots: Vec<Slot>,
    mask: usize,
    long: Vec<u8>,
    count: usize,
}

/// One entry as two integers, so that a hit costs two compares: `lo` is
/// the first 8 bytes of the zero-padded word (or, for a word longer than
/// `INLINE`, its offset into `WordTable::long`), `meta` packs the rest of
/// the word (bits 0-31), the flags (32-47), the length (48-55, 0 = empty
/// slot) and the tag (56-63). A word's length and tag sit in the same
/// integer as its last key bytes: one masked compare checks all three.
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    lo: u64,
    meta: u64,
}

const INLINE: usize = 12;
/// The bits of `Slot::meta` that, with `Slot::lo`, hold a short word
/// whole: its last 4 bytes and its length. (The flags are the answer and
/// the tag, a function of the rest, only spares long words a `memcmp`.)
const META_WORD: u64 = 0x00ff_0000_ffff_ffff;

impl Slot {
    /// `meta` without flags: the key's last 4 bytes, `len` and `tag`.
    #[inline(always)]
    fn meta_key(hi: u32, len: usize, tag: u8) -> u64 {
        u64::from(hi) | (len as u64) << 48 | u64::from(tag) << 56
    }

    /// `meta & META_WORD` of the slot holding a short word.
    #[inline(always)]
    fn meta_word(hi: u32, len: usize) -> u64 {
        u64::from(hi) | (len as u64) << 48
    }

    #[inline(always)]
    fn len(self) -> usize {
        (self.meta >> 48) as u8 as usize
    }

    #[inline(always)]
    fn tag(self) -> u8 {
        (self.meta >> 56) as u8
    }

    #[inline(always)]
    fn flags(self) -> u16 {
        (self.meta >> 32) as u16
    }
}

/// Ask the kernel to back the 2 MiB-aligned part of `slots` with huge
/// pages. It takes memory not yet written: a later first write then maps
/// a huge page, while pages already mapped would wait for khugepaged.
/// Each word lookup lands on a random slot of the megabytes-large word
/// table; with 4 KiB pages nearly each one also missed the TLB. Advice
/// only: where transparent huge pages are off, or the call fails, nothing
/// changes.
fn advise_huge_pages<T>(slots: &mut [std::mem::MaybeUninit<T>]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = slots.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(slots);
        let from = start.next_multiple_of(HUGE);
        let to = end & !(HUGE - 1);
        if to > from {
            // SAFETY: [from, to) lies inside `slots`, which this call
            // borrows mutably; MADV_HUGEPAGE changes how the range is
            // backed, never its contents.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
}

impl WordTable {
    /// An empty table for up to `n` words (at most half full).
    fn with_capacity(n: usize) -> Self {
        let cap = (n * 2).next_power_of_two().max(16);
        Self {
            slots: vec![Slot::default(); cap],
            mask: cap - 1,
            long: Vec::new(),
            count: 0,
        }
    }

    /// Add `w` (lower-cased) with `flags`, or OR them into its entry.
    /// Words of more than 255 bytes are not kept (no text token is one).
    fn insert(&mut self, w: &[u8], flags: u16) {
        if w.is_empty() || w.len() > 255 {
            return;
        }
        let h = hash(w);
        let tag = (h >> 56) as u8;
        let mut i = h as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s.len() == 0 {
                break;
            }
            if s.tag() == tag && s.len() == w.len() && *self.key_of(&s) == *w {
                self.slots[i].meta |= u64::from(flags) << 32;
                return;
            }
            i = (i + 1) & self.mask;
        }
        let (lo, hi) = if w.len() <= INLINE {
            let mut key = [0u8; INLINE];
            key[..w.len()].copy_from_slice(w);
            let k = Key::from_padded(&key);
            (k.lo, k.hi)
        } else {
            let off = self.long.len() as u64;
            self.long.extend_from_slice(w);
            (off, 0)
        };
        self.slots[i] = Slot {
            lo,
            meta: Slot::meta_key(hi, w.len(), tag) | u64::from(flags) << 32,
        };
        self.count += 1;
        // Keep probes short: at most half full.
        if self.count * 2 > self.slots.len() {
            self.grow();
        }
    }

    /// The same entries in the fewest slots that keep the table at most
    /// half full. The lists' line counts over-estimate their distinct
    /// words (one word is a first name, a surname and a city) and this
    /// table is read once per word of every text: at 16 MiB for 175k words
    /// nearly every lookup missed the cache and the TLB.
    fn compact(self) -> Self {
        // Rebuilt even at the same size: for the order below.
        let cap = (self.count * 2).next_power_of_two().max(16);
        // Fresh (never written) memory, advised, then filled.
        let mut slots = Vec::with_capacity(cap);
        advise_huge_pages(slots.spare_capacity_mut());
        slots.resize(cap, Slot::default());
        let mask = cap - 1;
        // The frequent words first, into a nearly empty table: each then
        // sits in its home slot, and a lookup of one (most lookups of a
        // text) hits at the first probe. Linear probing leaves ~a quarter
        // of its words a slot or more away, a branch no predictor can
        // foresee per word. Only the places change: every word keeps its
        // flags.
        let common = |s: &&Slot| s.len() != 0 && s.flags() & COMMON != 0;
        let rest = |s: &&Slot| s.len() != 0 && s.flags() & COMMON == 0;
        let by_frequency = self.slots.iter().filter(common);
        for s in by_frequency.chain(self.slots.iter().filter(rest)) {
            let mut i = hash(&self.key_of(s)) as usize & mask;
            while slots[i].len() != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = *s;
        }
        Self {
            slots,
            mask,
            long: self.long,
            count: self.count,
        }
    }

    /// Twice the slots, every entry re-placed.
    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        self.mask = cap - 1;
        for s in old.into_iter().filter(|s| s.len() != 0) {
            let mut i = hash(&self.key_of(&s)) as usize & self.mask;
            while self.slots[i].len() != 0 {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = s;
        }
    }

    /// The word of a slot (an owned copy for an inline key: the bytes
    /// live in two integers).
    fn key_of(&self, s: &Slot) -> std::borrow::Cow<'_, [u8]> {
        let n = s.len();
        if n <= INLINE {
            let mut b = s.lo.to_le_bytes().to_vec();
            b.extend_from_slice(&(s.meta as u32).to_le_bytes());
            b.truncate(n);
            b.into()
        } else {
            let off = s.lo as usize;
            self.long[off..off + n].into()
        }
    }

    /// Look up a short word already lower-cased and zero-padded to 12
    /// bytes: a hit is two integer compares (key, then the key's tail with
    /// its length), no `memcmp` call. A slot of a longer word never
    /// matches: its length is over `INLINE`.
    /// `len` must not be 0: the empty word's key would match an empty
    /// slot.
    #[inline]
    fn get_short(&self, key: Key, len: usize) -> Option<u16> {
        debug_assert!(len > 0);
        let want = Slot::meta_word(key.hi, len);
        let mut i = hash_short(key, len) as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s.lo == key.lo && s.meta & META_WORD == want {
                return Some(s.flags());
            }
            if s.len() == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    fn get(&self, w: &[u8]) -> Option<u16> {
        if w.is_empty() || w.len() > 255 {
            return None;
        }
        if w.len() <= INLINE {
            let mut key = [0u8; INLINE];
            key[..w.len()].copy_from_slice(w);
            return self.get_short(Key::from_padded(&key), w.len());
        }
        let h = hash(w);
        let tag = (h >> 56) as u8;
        let mut i = h as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s.len() == 0 {
                return None;
            }
            // Longer than `INLINE` (shorter ones returned above): the key
            // lives in `long`.
            if s.tag() == tag && s.len() == w.len() && *self.key_of(&s) == *w {
                return Some(s.flags());
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// FxHash-style multiply-rotate over 8-byte words, finished with a final
/// mix so the low bits (the slot) and the high byte (the tag) both vary.
#[inline]
fn hash(w: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h: u64 = w.len() as u64;
    let mut chunks = w.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ v).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// A word of up to `INLINE` bytes, zero-padded, as two integers: what a
/// slot's key is compared with, and hashed, without touching memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    lo: u64,
    hi: u32,
}

impl Key {
    #[inline(always)]
    fn from_padded(k: &[u8; INLINE]) -> Self {
        Self {
            lo: u64::from_le_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]),
            hi: u32::from_le_bytes([k[8], k[9], k[10], k[11]]),
        }
    }
}

/// `hash(&key[..len])` for a key of up to `INLINE` bytes: the zero padding
/// is what `hash` pads its last chunk with, so the chunk loop becomes at
/// most two rounds.
#[inline(always)]
fn hash_short(key: Key, len: usize) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    // The empty word's key is 0 and so is this round's result: `hash`
    // skips it, no need to test.
    let mut h = ((len as u64).rotate_left(5) ^ key.lo).wrapping_mul(K);
    if len > 8 {
        h = (h.rotate_left(5) ^ u64::from(key.hi)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// The lists a gazetteer directory may leave out (see
/// [`Gazetteers::from_dir`]): the embedded ones are used.
pub const INTL_FILE: &str = "common_words_intl.txt";
pub const GENDERS_FILE: &str = "first_name_genders.txt";

/// The embedded default lists (see rules/gazetteers/README.md).
pub const BUILTIN: GazetteerSources<'static> = GazetteerSources {
    first_names: include_str!("../../rules/gazetteers/first_names.txt"),
    first_name_genders: include_str!("../../rules/gazetteers/first_name_genders.txt"),
    surnames: include_str!("../../rules/gazetteers/surnames.txt"),
    cities: include_str!("../../rules/gazetteers/cities.txt"),
    countries: include_str!("../../rules/gazetteers/countries.txt"),
    common_words: include_str!("../../rules/gazetteers/common_words.txt"),
    common_words_intl: include_str!("../../rules/gazetteers/common_words_intl.txt"),
    dictionary: include_str!("../../rules/gazetteers/dictionary.txt"),
    not_names: include_str!("../../rules/gazetteers/not_names.txt"),
};

/// The text of each list; one entry per line, `#` starts a comment line.
#[derive(Clone, Copy)]
pub struct GazetteerSources<'a> {
    pub first_names: &'a str,
    /// Given names of one gender, "Name\tf" or "Name\tm" a line: a
    /// surrogate keeps the gender of the name it replaces, so "his wife
    /// Sarah" does not become "his wife Raffaele" (and the pronouns of
    /// the text still agree with the names).
    pub first_name_genders: &'a str,
    pub surnames: &'a str,
    pub cities: &'a str,
    pub countries: &'a str,
    pub common_words: &'a str,
    /// Frequent words of German, French, Spanish, Italian, Dutch and
    /// Portuguese, loaded as `common_words` is: without them the function
    /// words that open a sentence ("Können Sie", "Pero", "Niet") were
    /// unknown capitalised words, or names, and so persons.
    pub common_words_intl: &'a str,
    pub dictionary: &'a str,
    /// Capitalised words that are never names (nationalities, months...).
    pub not_names: &'a str,
}

/// Whether `text[start..end]` is a month name, or its abbreviation, written
/// as part of a date: right after a day's number ("29 January") or right
/// before a number ("January 2002", "June 5, 2019", "Sept. 3"). Month names
/// are first names too (April, June, May, August, "Jan"), so the word lists
/// alone would call the date a person, and the merge would widen that
/// person over the whole date.
fn month_in_date(text: &str, start: usize, end: usize) -> bool {
    month_lead(&text.as_bytes()[start..end])
        && crate::months::parse(&text[start..end]).is_some()
        && in_date(text, start, end)
}

/// Whether the word `text[start..end]`, a month, stands in a date (see
/// [`month_in_date`]).
fn in_date(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', '\u{a0}']);
    let spaced = before.len() < start;
    if spaced && before.ends_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    // "1st of June": the day's number, then "of".
    if spaced
        && let Some(day) = before.strip_suffix("of")
        && day
            .trim_end_matches(' ')
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .ends_with(|c: char| c.is_ascii_digit())
    {
        return true;
    }
    let after = text[end..].strip_prefix('.').unwrap_or(&text[end..]);
    let after = after.strip_prefix(',').unwrap_or(after);
    let rest = after.trim_start_matches([' ', '\u{a0}']);
    rest.len() < after.len() && rest.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `text[start..end]` is a month written as a month: in a date
/// ([`month_in_date`]) or after a word that puts a time ("in April", "by
/// March", "since June"), not a person called April or June. Asked of the
/// last word of every run of capitalised words: the first check turns
/// down nearly all of them with two byte compares.
#[inline]
fn month_not_name(text: &str, start: usize, end: usize) -> bool {
    month_lead(&text.as_bytes()[start..end]) && month_not_name_slow(text, start, end)
}

#[inline(never)]
fn month_not_name_slow(text: &str, start: usize, end: usize) -> bool {
    if crate::months::parse(&text[start..end]).is_none() {
        return false;
    }
    if in_date(text, start, end) {
        return true;
    }
    let before = text[..start].trim_end_matches([' ', '\u{a0}']);
    if before.len() == start {
        return false;
    }
    let word_start = before
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |k| k + 1);
    const TIME_WORDS: [&str; 16] = [
        "in",
        "on",
        "by",
        "since",
        "until",
        "till",
        "from",
        "during",
        "before",
        "after",
        "through",
        "throughout",
        "early",
        "late",
        "mid",
        "last",
    ];
    let w = &before[word_start..];
    among(w.as_bytes(), &TIME_WORDS)
}

/// Whether `word` may be one that `months::parse` knows: 3 to 9 bytes,
/// the first two a month's in any case. The people finder asks
/// `month_in_date` of nearly every name it keeps, and names seldom start
/// as a month does: this rejects most with two byte compares where the
/// full parse cost ~35 instructions a name (~2 % of a word list pass).
#[inline]
fn month_lead(word: &[u8]) -> bool {
    // `| 0x20` lower-cases a letter and maps no other byte to one.
    matches!(
        word,
        [a, b, ..] if (3..=9).contains(&word.len())
            && matches!(
                [a | 0x20, b | 0x20],
                [b'j', b'a' | b'u'] | [b'f', b'e'] | [b'm', b'a'] | [b'a', b'p' | b'u']
                    | [b's', b'e'] | [b'o', b'c'] | [b'n', b'o'] | [b'd', b'e']
            )
    )
}

fn push_lower(buf: &mut String, word: &str) {
    if word.is_ascii() {
        let at = buf.len();
        buf.push_str(word);
        buf[at..].make_ascii_lowercase();
    } else {
        buf.extend(word.chars().flat_map(char::to_lowercase));
    }
}

fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Where the handle around the word `start..end` begins and ends: runs of
/// ASCII letters, digits and `_`, joined by inner dots and dashes
/// ("jane_smith88", "dev_jane", "jane.doe"); `(start, end)` when the word
/// stands alone.
fn handle_around(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let (mut s, mut e) = (start, end);
    while s > 0 && word(bytes[s - 1]) {
        s -= 1;
    }
    loop {
        match bytes.get(e) {
            Some(&c) if word(c) => e += 1,
            // Inner dots and dashes ("jane.doe", "jane-d"), not a last one.
            Some(b'.' | b'-') if bytes.get(e + 1).is_some_and(|&c| word(c)) => e += 1,
            _ => break,
        }
    }
    (s, e)
}

/// [`after_postcode`], the postcode opening its line or following a
/// comma ("…, 00184 Roma", "1100-053 Lisboa" on a line of its own): only
/// there is the word after it surely the town. In "in 1995 John moved"
/// the number is a year.
fn postcode_line_before(bytes: &[u8], start: usize) -> bool {
    let Some(mut i) = postcode_before(bytes, start) else {
        return false;
    };
    // Over a country prefix ("D-10115"), then the blanks before it.
    while i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-') {
        i -= 1;
    }
    while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i == 0 || matches!(bytes[i - 1], b'\n' | b',' | b'(')
}

/// Whether the word at `start` follows a postcode on its line: "75001
/// Paris", "D-10115 Berlin", "3011 Bern". Four or more digits, spaces and
/// then the word; a city that is also a first name is then a place.
fn after_postcode(bytes: &[u8], start: usize) -> bool {
    postcode_before(bytes, start).is_some()
}

/// Where the postcode that [`after_postcode`] finds before `start` begins
/// (its first digit), if there is one.
fn postcode_before(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i > 0 && bytes[i - 1] == b' ' {
        i -= 1;
    }
    if i == start {
        return None;
    }
    let digits_end = i;
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    // "1100-053 Lisboa", "00-950 Warszawa": Portuguese and Polish
    // postcodes have a dash three digits from the end.
    if digits_end - i == 3 && i > 2 && bytes[i - 1] == b'-' && bytes[i - 2].is_ascii_digit() {
        i -= 1;
        let head_end = i;
        while i > 0 && bytes[i - 1].is_ascii_digit() {
            i -= 1;
        }
        let ok = matches!(head_end - i, 2 | 4) && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        return ok.then_some(i);
    }
    // Not the tail of a longer token ("A12345 Paris"); "D-10115" is fine.
    let ok = digits_end - i >= 4 && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
    ok.then_some(i)
}

/// The last token of the name after a lower-case title written with its
/// dot at `toks[i]` ("mr. martin", "dr. hurst", "mrs. anna kowalska"), or
/// None. Only the abbreviations: a lower-case "judge" or "president" is
/// an ordinary word, and after a number "ms." is milliseconds. The name is
/// a given name, though it may be an ordinary word too ("martin"), or a
/// surname that is none ("hurst": the surname lists hold "then" and
/// "suite"); a next word that can only be a surname joins it.
fn lower_titled_name(text: &[u8], toks: &[Tok], i: usize) -> Option<usize> {
    let t = toks[i];
    let title = text.get(t.start..t.end)?.strip_suffix(b".")?;
    if !matches!(title, b"mr" | b"mrs" | b"ms" | b"mx" | b"dr" | b"prof")
        || text[..t.start]
            .trim_ascii_end()
            .last()
            .is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let word = |k: usize| {
        toks.get(k).filter(|n| {
            n.joined_prev
                && !n.cap
                && n.end - n.start >= 3
                && n.flags & (TITLE | NOT_NAME | PARTICLE) == 0
                && !part_of_identifier(text, n.end)
        })
    };
    let name = word(i + 1)?;
    if name.flags & FIRST == 0 && (name.flags & LAST == 0 || name.flags & (COMMON | DICT) != 0) {
        return None;
    }
    // After a title and a given name, a surname that is a word too
    // ("mr. chad farmer", "dr. john smith") unless it glues the sentence
    // on ("mr. john will call").
    let surname = |n: &Tok| {
        n.flags & LAST != 0
            && (n.flags & (COMMON | DICT) == 0
                || name.flags & FIRST != 0 && !glue_word(&text[n.start..n.end]))
            || n.flags & (DICT | COMMON | FIRST | LAST) == 0
    };
    Some(if word(i + 2).is_some_and(surname) {
        i + 2
    } else {
        i + 1
    })
}

/// Whether token `i` comes right after a speech verb ("says X", "asked
/// X") or after "name is" ("my name is X").
fn speech_or_name_cue(text: &str, toks: &[Tok], i: usize) -> bool {
    let is = |k: usize, words: &[&str]| among(&text.as_bytes()[toks[k].start..toks[k].end], words);
    i > 0
        && toks[i].joined_prev
        && (is(
            i - 1,
            &[
                "says", "said", "asks", "asked", "replied", "replies", "wrote",
            ],
        ) || i >= 2 && toks[i - 1].joined_prev && is(i - 1, &["is"]) && is(i - 2, &["name"]))
}

/// Whether token `i` is the name given in "named him X", "call her X",
/// "nicknamed them X": the person cue is two words back, past the pronoun.
fn named_object(text: &str, toks: &[Tok], i: usize) -> bool {
    let is = |k: usize, words: &[&str]| among(&text.as_bytes()[toks[k].start..toks[k].end], words);
    i >= 2
        && toks[i].joined_prev
        && toks[i - 1].joined_prev
        && is(i - 1, &["him", "her", "them"])
        && is(
            i - 2,
            &[
                "named",
                "name",
                "names",
                "called",
                "call",
                "calls",
                "nicknamed",
            ],
        )
}

/// Whether `word` is one of `words` (ASCII case ignored): the check of
/// every short word list here.
#[inline]
fn among(word: &[u8], words: &[&str]) -> bool {
    words
        .iter()
        .any(|x| x.as_bytes().eq_ignore_ascii_case(word))
}

/// Whether the word ending at `end` runs on into a host, file or
/// resource name: "deploy to kubeprod01", "pushed to staging-db-2", "sent
/// to mailhost.internal", "copy to backup:/srv", "moved to logs/old". Such
/// a word after "to" or "in" is infrastructure, not a village. A dot that
/// ends the sentence ("grew up in lubbeek.") is no such join.
fn part_of_identifier(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        Some(b'0'..=b'9' | b'-' | b'_' | b'/' | b'@') => true,
        Some(b'.' | b':') => bytes
            .get(end + 1)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'/'),
        _ => false,
    }
}

/// Whether the word starting at `start` is run into by digits or a `_`
/// that a letter is glued to in turn ("l9GKJl" of a base64 blob,
/// "4f9_Wombel"): the letters of a key, a hash or an identifier, not a
/// word of their own. A name that only opens with digits ("5Psolutions",
/// "3Com") stays a name.
fn runs_into_identifier(bytes: &[u8], start: usize) -> bool {
    let mut i = start;
    while i > 0 && matches!(bytes[i - 1], b'0'..=b'9' | b'_') {
        i -= 1;
    }
    i < start && i > 0 && bytes[i - 1].is_ascii_alphabetic()
}

/// The length of `first`, a space and `next` as the text holds them, if
/// that is the key `find_places` would build of the two words (their
/// lower-cased text joined by one space) and at most `INLINE` bytes: then
/// `short_key` of the text is that key, found without building a string.
/// (Two ASCII words one space apart: their bytes are letters, ' - and a
/// kept dot, which `short_key` lower-cases or leaves alone, as it leaves
/// the space.) Building the key cost ~190 instructions a try, ~8 % of a
/// word list pass over presidio-dev (callgrind), and most tries end with
/// the first two words.
#[inline]
fn short_ascii_pair(bytes: &[u8], first: &Tok, next: &Tok) -> Option<usize> {
    let len = next.end - first.start;
    (next.start == first.end + 1
        && bytes[first.end] == b' '
        && len <= INLINE
        && bytes[first.start..next.end].is_ascii())
    .then_some(len)
}

/// Byte classes for the tokenizer: one table load per byte of ASCII text
/// decides what `char::is_alphabetic` and a `match` on the char decided
/// before (most of a scan's bytes are ASCII; the rest take the char path).
const B_UPPER: u8 = 1;
const B_LOWER: u8 = 2;
const B_LETTER: u8 = B_UPPER | B_LOWER;
/// Ends a sentence (and a run of joined words).
const B_SENTENCE: u8 = 4;
/// A plain space: the words either side stay joined.
const B_SPACE: u8 = 8;
/// Not ASCII: decode the char.
const B_HIGH: u8 = 16;
/// ' or -: part of a word when a letter follows.
const B_JOIN: u8 = 32;

static BYTE_CLASS: [u8; 256] = byte_classes();

const fn byte_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            B_UPPER
        } else if c.is_ascii_lowercase() {
            B_LOWER
        } else if c >= 0x80 {
            B_HIGH
        } else if c == b' ' {
            B_SPACE
        } else if c == b'\'' || c == b'-' {
            B_JOIN
        } else if matches!(
            c,
            b'.' | b'!'
                | b'?'
                | b':'
                | b';'
                | b'\n'
                | b'\r'
                | b'"'
                | b'*'
                | b'|'
                | b'\t'
                | b'>'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'='
        ) {
            B_SENTENCE
        } else {
            0
        };
        b += 1;
    }
    t
}

/// `char::is_alphabetic`, answered without the Unicode tables for the
/// non-ASCII chars that most texts hold: Latin-1 and Latin Extended
/// letters, Greek and Cyrillic capitals and small letters, Hebrew letters,
/// and the punctuation block (’ “ ” – •), which holds none. The table
/// search costs about 170 instructions a char, and the tokenizer asks for
/// every non-ASCII char of a text, some more than once.
#[inline]
fn is_alphabetic(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' => true,
        '\0'..='\u{a9}' => false,
        'À'..='ɏ' => !matches!(c, '×' | '÷'),
        'Α'..='Ρ' | 'Σ'..='ώ' | 'А'..='я' | 'א'..='ת' => true,
        '\u{2000}'..='\u{206f}' => false,
        _ => c.is_alphabetic(),
    }
}

/// Is the char at byte `i` (a char boundary) alphabetic?
#[inline]
fn alphabetic_at(text: &str, i: usize) -> bool {
    match text.as_bytes().get(i) {
        Some(&b) if b < 0x80 => BYTE_CLASS[b as usize] & B_LETTER != 0,
        Some(_) => text[i..].chars().next().is_some_and(is_alphabetic),
        None => false,
    }
}

/// One word as the tokenizer's scanners found it (a possessive already
/// stripped from `end`, still counted in `letters` and `lower`).
#[derive(Clone, Copy)]
struct Word {
    end: usize,
    /// Alphabetic chars.
    letters: usize,
    /// Holds a lower-case letter.
    lower: bool,
    /// Every byte is ASCII (letters, ' and -).
    ascii: bool,
}

/// "MRNs", "URLs", "IDs": capitals and a plural "s" are an acronym,
/// written as capitals are, not a capitalised word. Unknown capitalised
/// words are likely names; "MRNs" before a list of numbers is none.
fn acronym_plural(word: &[u8]) -> bool {
    matches!(word, [caps @ .., b's'] if caps.len() >= 2 && caps.iter().all(u8::is_ascii_uppercase))
}

/// "No" or "Nr" used as the number sign: followed by a digit, after an
/// optional dot and space ("NHS No. 943 476 5919", "Invoice Nr 12"). "No"
/// is also a surname, and "NHS No" was a person.
fn number_sign(bytes: &[u8], start: usize, end: usize) -> bool {
    let word = &bytes[start..end];
    if !(word.eq_ignore_ascii_case(b"no") || word.eq_ignore_ascii_case(b"nr")) {
        return false;
    }
    let mut i = end;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
    }
    while bytes.get(i) == Some(&b' ') && i < end + 3 {
        i += 1;
    }
    bytes.get(i).is_some_and(u8::is_ascii_digit)
}

/// The word starting at byte `start` (an alphabetic char): letters, and
/// ' ’ - between letters, without a possessive ("Karen's": the name is
/// "Karen"). `letters` and `lower` count a stripped possessive "s" too:
/// close enough for "is this word all capitals".
#[inline(never)]
fn scan_word(text: &str, start: usize) -> Word {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut end = start;
    // OR of the ASCII letters' classes: B_LOWER if any is lower case.
    let mut seen = 0u8;
    let mut lower = false;
    // Bytes of the word that are not a letter of their own: joiners and
    // the continuation bytes of non-ASCII letters.
    let mut not_letters = 0usize;
    let mut ascii = true;
    let mut apostrophe = false;
    loop {
        while end < n {
            let class = BYTE_CLASS[bytes[end] as usize];
            if class & B_LETTER == 0 {
                break;
            }
            seen |= class;
            end += 1;
        }
        let Some(&b) = bytes.get(end) else {
            break;
        };
        if b == b'\'' || b == b'-' {
            if !alphabetic_at(text, end + 1) {
                break;
            }
            apostrophe |= b == b'\'';
            not_letters += 1;
            end += 1;
            continue;
        }
        if b < 0x80 {
            break;
        }
        let c = text[end..].chars().next().unwrap_or(' ');
        if is_alphabetic(c) {
            lower |= c.is_lowercase();
            not_letters += c.len_utf8() - 1;
        } else if c == '’' && alphabetic_at(text, end + c.len_utf8()) {
            apostrophe = true;
            not_letters += c.len_utf8();
        } else {
            break;
        }
        ascii = false;
        end += c.len_utf8();
    }
    let letters = end - start - not_letters;
    // Only a word holding an apostrophe can end in a possessive.
    if apostrophe {
        for poss in ["'s", "’s", "'S"] {
            if end - start > poss.len() + 1 && text[start..end].ends_with(poss) {
                end -= poss.len();
                break;
            }
        }
    }
    Word {
        end,
        letters,
        lower: lower || seen & B_LOWER != 0,
        ascii,
    }
}

/// The ASCII word `bytes[start..start + len]` (letters, ' and -; `len`
/// from 1 to `INLINE`) lower-cased and zero-padded, as
/// `WordTable::get_short` wants it: two loads and two masks. Setting bit 5
/// lower-cases a letter and leaves ' and - as they are, so no byte is
/// looked at on its own.
#[inline(always)]
fn short_key(bytes: &[u8], start: usize, len: usize) -> Key {
    // Up to the end of the text: the last word's key is built byte by byte.
    let load = |at: &[u8]| at.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b));
    let tail = &bytes[start..];
    let lo = match tail.first_chunk::<8>() {
        Some(b) => u64::from_le_bytes(*b),
        None => load(tail),
    };
    let hi = if len > 8 {
        match tail[8..].first_chunk::<4>() {
            Some(b) => u64::from(u32::from_le_bytes(*b)),
            None => load(&tail[8..]),
        }
    } else {
        0
    };
    // `len` >= 1: both shifts stay below 64.
    Key {
        lo: (lo | 0x2020_2020_2020_2020) & (u64::MAX >> (64 - 8 * len.min(8))),
        hi: ((hi | 0x2020_2020) & ((1u64 << (8 * len.saturating_sub(8))) - 1)) as u32,
    }
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// Bit 5 of every byte: set, it lower-cases an ASCII letter.
const CASE_BITS: u64 = 0x2020_2020_2020_2020;

/// The high bit of each byte of `v` (text in little-endian order) that is
/// an ASCII letter, exact up to and including the first non-ASCII byte:
/// all a word scanner reads, as the word ends there. With bit 5 set, A-Z
/// and a-z are exactly the bytes 0x61..=0x7a; one addition finds the
/// bytes from 0x61, another those past 0x7a. No ASCII byte carries into
/// the next (0x7f + 0x1f < 0x100), so only the bytes after a non-ASCII
/// byte can come out wrong; that byte itself never reads as a letter.
/// (Two operations fewer than `super::ascii_range_bits`, which is exact
/// for every byte: this runs once or twice per word of every text.)
#[inline(always)]
fn leading_letter_bits(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = v | CASE_BITS;
    let from_a = x.wrapping_add(u64::from(0x80 - b'a') * ONES);
    let past_z = x.wrapping_add(u64::from(0x7f - b'z') * ONES);
    from_a & !past_z & HIGH_BITS
}

/// The 8 bytes of `bytes` from `at` as a little-endian integer,
/// zero-padded past the end of the text (`at` may be past it too). A zero
/// byte is no letter and no joiner: a word meets it as it meets the end.
#[inline(always)]
fn load8(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(b) => u64::from_le_bytes(*b),
        None => load8_tail(bytes, at),
    }
}

/// `load8` for the last 7 bytes of a text (one word of most short records).
#[cold]
#[inline(never)]
fn load8_tail(bytes: &[u8], at: usize) -> u64 {
    let tail = bytes.get(at..).unwrap_or_default();
    let mut b = [0u8; 8];
    b[..tail.len()].copy_from_slice(tail);
    u64::from_le_bytes(b)
}

/// A word as `short_plain_word` found it.
#[derive(Clone, Copy)]
struct PlainWord {
    end: usize,
    /// Holds a lower-case letter.
    lower: bool,
    /// The lookup key.
    key: Key,
    /// The byte right after the word (0 at the end of the text).
    after: u8,
}

/// The commonest word of all, from one 8-byte load (two for 8 to 12
/// letters): ASCII letters (the first at `start`), ended by a byte that
/// neither joins (' -) nor starts a non-ASCII char. `None`: take the
/// general path (`plain_ascii_word`, `scan_word`).
#[inline(always)]
fn short_plain_word(bytes: &[u8], start: usize) -> Option<PlainWord> {
    let v = load8(bytes, start);
    let letters = leading_letter_bits(v);
    // Letters before the first non-letter (at least one: `start`'s).
    let run = ((!letters & HIGH_BITS).trailing_zeros() / 8) as usize;
    if run == 8 {
        // Eight letters so far: a second load for words of up to
        // `INLINE` bytes ("applicant", "government").
        let v2 = load8(bytes, start + 8);
        let letters2 = leading_letter_bits(v2);
        let run2 = ((!letters2 & HIGH_BITS).trailing_zeros() / 8) as usize;
        if run2 > INLINE - 8 {
            return None;
        }
        let after = (v2 >> (8 * run2)) as u8;
        if BYTE_CLASS[after as usize] & (B_JOIN | B_HIGH) != 0 {
            return None;
        }
        let mask2 = (1u64 << (8 * run2)) - 1;
        let lower = letters & (v << 2) != 0 || letters2 & (v2 << 2) & mask2 != 0;
        let key = Key {
            lo: v | CASE_BITS,
            hi: ((v2 | CASE_BITS) & mask2) as u32,
        };
        return Some(PlainWord {
            end: start + 8 + run2,
            lower,
            key,
            after,
        });
    }
    let after = (v >> (8 * run)) as u8;
    if BYTE_CLASS[after as usize] & (B_JOIN | B_HIGH) != 0 {
        return None;
    }
    let mask = (1u64 << (8 * run)) - 1;
    // Bit 5 moved to bit 7 of its byte: a lower-case letter.
    let lower = letters & (v << 2) & mask != 0;
    let key = Key {
        lo: (v | CASE_BITS) & mask,
        hi: 0,
    };
    Some(PlainWord {
        end: start + run,
        lower,
        key,
        after,
    })
}

/// An ASCII word ended by neither a joiner (' -) nor a non-ASCII byte, so
/// neither ' ’ - nor a possessive can be part of it, byte by byte: the
/// words over `INLINE` letters that `short_plain_word` leaves. `class` is
/// the class of its first byte, a letter.
#[inline(always)]
fn plain_ascii_word(bytes: &[u8], start: usize, class: u8) -> Option<Word> {
    let mut seen = class;
    let mut end = start + 1;
    while let Some(&b) = bytes.get(end) {
        let c = BYTE_CLASS[b as usize];
        if c & B_LETTER == 0 {
            if c & (B_JOIN | B_HIGH) != 0 {
                return None;
            }
            break;
        }
        seen |= c;
        end += 1;
    }
    Some(Word {
        end,
        letters: end - start,
        lower: seen & B_LOWER != 0,
        ascii: true,
    })
}

/// Whether `word` (any case) is a job noun that ends a job title ("Senior
/// Engineer", "Account Manager"). Asked only of the last word of a run of
/// capitalised words that may be a name, so a sorted list is enough.
fn is_job_word(word: &str) -> bool {
    // Sorted: binary search.
    const JOB_WORDS: &[&str] = &[
        "accountant",
        "administrator",
        "adviser",
        "advisor",
        "analyst",
        "architect",
        "assistant",
        "associate",
        "attorney",
        "auditor",
        "ceo",
        "cfo",
        "chairman",
        "chairwoman",
        "clerk",
        "consultant",
        "coordinator",
        "counsel",
        "cto",
        "designer",
        "developer",
        "director",
        "editor",
        "engineer",
        "engineers",
        "executive",
        "inspector",
        "instructor",
        "intern",
        "lawyer",
        "lecturer",
        "manager",
        "managers",
        "nurse",
        "officer",
        "operator",
        "pharmacist",
        "physician",
        "planner",
        "producer",
        "programmer",
        "recruiter",
        "representative",
        "researcher",
        "scientist",
        "secretary",
        "specialist",
        "strategist",
        "supervisor",
        "surgeon",
        "technician",
        "therapist",
        "trainer",
        "treasurer",
        "vp",
        "writer",
    ];
    debug_assert!(JOB_WORDS.is_sorted());
    word.len() <= 14
        && JOB_WORDS
            .binary_search_by(|w| {
                w.bytes()
                    .map(|b| b.to_ascii_lowercase())
                    .cmp(word.bytes().map(|b| b.to_ascii_lowercase()))
            })
            .is_ok()
}

/// A short word in capitals that no name list holds ("DOB", "PCP", "HPI",
/// "MRN"): an abbreviation, not part of a name written in mixed case.
/// Names in capitals ("JOHN", "LI") are in the lists; longer unknown words
/// in capitals ("DUPONTEL") may be surnames written the French way.
/// Degrees and generational suffixes are no such abbreviations: they
/// belong to the name before them ("Sean Vizirov DVM").
///
/// The test of a token's fields inline (nearly every word fails it), the
/// list out of line.
#[inline(always)]
fn is_acronym(text: &str, t: &Tok) -> bool {
    t.all_caps && t.flags & (FIRST | LAST) == 0 && t.end - t.start <= 4 && !postnominal(text, t)
}

#[inline(never)]
fn postnominal(text: &str, t: &Tok) -> bool {
    const POSTNOMINALS: &[&str] = &[
        "dds", "dvm", "dmd", "cpa", "mba", "mph", "llm", "rn", "np", "lpn", "esq", "phd", "md",
        "jr", "sr", "ii", "iii", "iv",
    ];
    let word = text[t.start..t.end].trim_end_matches('.');
    among(word.as_bytes(), POSTNOMINALS)
}

/// What `Gazetteers::rare_step` found.
enum Step {
    /// A word, whether it starts with a capital, and its flags.
    Word(Word, bool, u16),
    /// A non-ASCII char of `len` bytes that is no letter: it may start a
    /// sentence (“ ” •) and keeps the words either side joined only if it
    /// is a no-break space.
    Gap {
        len: usize,
        sentence: bool,
        keeps_join: bool,
    },
}

/// A word of the text, as the name detector sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tok {
    start: usize,
    end: usize,
    flags: u16,
    /// Starts with an upper-case letter.
    cap: bool,
    /// Every letter is upper case (and there are at least two).
    all_caps: bool,
    /// A single letter followed by a dot ("J.").
    initial: bool,
    /// First word of a sentence, line or field: capitalisation proves nothing.
    sentence_start: bool,
    /// Only plain spaces separate this word from the previous one.
    joined_prev: bool,
}

impl Gazetteers {
    pub fn builtin() -> Self {
        Self::from_sources(BUILTIN)
    }

    /// Load the lists from a directory holding files of the built-in
    /// names (a site's own lists replace the embedded ones).
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))
        };
        let (f, s, c, k, w, d, n) = (
            read("first_names.txt")?,
            read("surnames.txt")?,
            read("cities.txt")?,
            read("countries.txt")?,
            read("common_words.txt")?,
            read("dictionary.txt")?,
            read("not_names.txt")?,
        );
        // Optional, as it came later than the others: a site directory
        // made before it keeps working, with the embedded list.
        let optional = |name: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&dir.join(name), e)),
        };
        let intl = optional(INTL_FILE)?;
        let genders = optional(GENDERS_FILE)?;
        Ok(Self::from_sources(GazetteerSources {
            first_names: &f,
            first_name_genders: genders.as_deref().unwrap_or(BUILTIN.first_name_genders),
            surnames: &s,
            cities: &c,
            countries: &k,
            common_words: &w,
            common_words_intl: intl.as_deref().unwrap_or(BUILTIN.common_words_intl),
            dictionary: &d,
            not_names: &n,
        }))
    }

    pub fn from_sources(src: GazetteerSources<'_>) -> Self {
        // Entries are inserted straight into the table: an intermediate map
        // of ~200k boxed keys, freed at the end, left the heap so
        // fragmented that every later allocation paid for it (the JSONL
        // writer's most of all).
        let upper = [
            src.common_words,
            src.common_words_intl,
            src.dictionary,
            src.not_names,
            src.first_names,
            src.surnames,
            src.cities,
            src.countries,
        ]
        .iter()
        .map(|l| l.lines().count() * 2)
        .sum::<usize>()
            + 512;
        let mut words = WordTable::with_capacity(upper);
        let mut key = String::new();
        let mut add = |w: &str, flag: u16| {
            key.clear();
            if w.is_ascii() {
                key.push_str(w);
                key.make_ascii_lowercase();
            } else {
                // As the map was keyed (`str::to_lowercase`: final sigma).
                key.push_str(&w.to_lowercase());
            }
            words.insert(key.as_bytes(), flag);
        };
        let mut max_place_words = 1;
        let mut place_prefixes = WordTable::with_capacity(1024);
        for w in entries(src.common_words).chain(entries(src.common_words_intl)) {
            let flags = if NAMES_OVER_WORDS.contains(&w) {
                DICT
            } else {
                COMMON | DICT
            };
            add(w, flags);
        }
        for w in entries(src.dictionary) {
            add(w, DICT);
        }
        for w in entries(src.not_names).flat_map(str::split_whitespace) {
            add(w, COMMON | DICT | NOT_NAME);
        }
        let mut first_names = Vec::new();
        for w in entries(src.first_names) {
            add(w, FIRST);
            first_names.push(w.to_string());
        }
        let (mut female_names, mut male_names) = (Vec::new(), Vec::new());
        for line in entries(src.first_name_genders) {
            match line.rsplit_once('\t') {
                Some((name, "f")) => female_names.push(name.trim().to_string()),
                Some((name, "m")) => male_names.push(name.trim().to_string()),
                // Anything else names no gender: the name keeps any.
                _ => {}
            }
        }
        let mut surnames = Vec::new();
        for w in entries(src.surnames) {
            if w.contains(' ') {
                // "van der Voet": the particles are handled as particles,
                // the last word is the surname proper.
                if let Some(last) = w.rsplit(' ').next() {
                    add(last, LAST);
                }
            } else {
                add(w, LAST);
            }
            surnames.push(w.to_string());
        }
        let mut cities = Vec::new();
        let mut countries = Vec::new();
        for (list, flag) in [(src.cities, CITY), (src.countries, COUNTRY)] {
            for w in entries(list) {
                let n = w.split_whitespace().count();
                if n > 1 {
                    max_place_words = max_place_words.max(n);
                    let first = w.split_whitespace().next().unwrap_or(w);
                    add(first, PLACE_PREFIX);
                    let joined = w.split_whitespace().collect::<Vec<_>>().join(" ");
                    add(&joined, flag);
                    // The same lower-casing as `add`, so these are the
                    // keys (and key prefixes) `find_places` builds.
                    let key = if joined.is_ascii() {
                        joined.to_ascii_lowercase()
                    } else {
                        joined.to_lowercase()
                    };
                    place_prefixes.insert(key.as_bytes(), WHOLE_PLACE);
                    for (at, _) in key.match_indices(' ').skip(1) {
                        place_prefixes.insert(&key.as_bytes()[..at], LEADS_ON);
                    }
                } else {
                    add(w, flag);
                }
                if flag == CITY {
                    cities.push(w.to_string());
                } else {
                    countries.push(w.to_string());
                }
            }
        }
        for w in TITLES.iter().chain(SALUTATIONS) {
            add(w, TITLE);
        }
        for w in PARTICLES {
            add(w, PARTICLE);
        }
        for w in PERSON_CUES {
            add(w, PERSON_CUE);
        }
        for w in PLACE_CUES {
            add(w, PLACE_CUE);
        }
        for w in ORG_WORDS {
            add(w, ORG_WORD);
        }
        for w in STREET_WORDS {
            add(w, STREET_WORD);
        }
        for w in ["the", "a", "an"] {
            add(w, ARTICLE);
        }
        for w in [
            "apt",
            "apartment",
            "suite",
            "ste",
            "unit",
            "flat",
            "floor",
            "room",
            "box",
        ] {
            add(w, UNIT_WORD);
        }
        Self {
            words: words.compact(),
            max_place_words,
            place_prefixes,
            first_names,
            female_names,
            male_names,
            surnames,
            cities,
            countries,
            person: Name::from("PERSON"),
            location: Name::from("LOCATION"),
            det_name: Name::from("gazetteer:name"),
            det_place: Name::from("gazetteer:place"),
            address: Name::from("ADDRESS"),
            username: Name::from("USERNAME"),
            det_street: Name::from("gazetteer:street"),
        }
    }

    fn flags(&self, word: &str, buf: &mut String) -> u16 {
        let b = word.as_bytes();
        if !b.is_empty() && b.len() <= INLINE && word.is_ascii() {
            // Fastest path, most words of most text: lower-case straight
            // into the padded key.
            let mut key = [0u8; INLINE];
            for (k, c) in key.iter_mut().zip(b) {
                *k = c.to_ascii_lowercase();
            }
            return self
                .words
                .get_short(Key::from_padded(&key), b.len())
                .unwrap_or(0);
        }
        buf.clear();
        if word.is_ascii() {
            // Fast path: most words of most text.
            buf.push_str(word);
            buf.make_ascii_lowercase();
            return self.words.get(buf.as_bytes()).unwrap_or(0);
        }
        for c in word.chars() {
            if c.is_ascii() {
                // Most letters of most non-ASCII words ("Weöres").
                buf.push(c.to_ascii_lowercase());
            } else if c == '’' {
                buf.push('\'');
            } else {
                buf.extend(c.to_lowercase());
            }
        }
        self.words.get(buf.as_bytes()).unwrap_or(0)
    }

    /// True if `word` (any case) can be a name as an item of a list of
    /// names: a first name, even one that is a word too ("Crystal",
    /// "brandy"), a surname that is no word, or a word in no list at all
    /// ("natalina"); not a title, particle or a word never a name, nor an
    /// unlisted inflection of a word ("Meds:", "Vitals:", a clinical
    /// note's section heads). (The surname lists hold words such as
    /// "agent" and "then".)
    pub fn list_name(&self, word: &str) -> bool {
        let mut b = String::new();
        let f = self.flags(word, &mut b);
        if f & (TITLE | PARTICLE | NOT_NAME) != 0 || word.chars().count() < 2 {
            return false;
        }
        f & FIRST != 0
            || f & (DICT | COMMON) == 0
                && (f & LAST != 0
                    || word.chars().count() >= 3 && !self.english_like_capitalised(word))
    }

    /// Whether `word` (one word, any case) is a city or country, and
    /// whether it is a given name: one lookup for both.
    pub fn place_and_given(&self, word: &str) -> (bool, bool) {
        let mut b = String::new();
        let f = self.flags(word, &mut b);
        (f & (CITY | COUNTRY) != 0, f & FIRST != 0)
    }

    /// True if `word` (any case) is a title or honorific ("Dr", "Professor",
    /// "Judge").
    pub fn is_title(&self, word: &str) -> bool {
        let mut b = String::new();
        self.flags(word, &mut b) & TITLE != 0
    }

    /// The entity types of this detector's person and place spans.
    pub fn person_and_place(&self) -> (Name, Name) {
        (self.person, self.location)
    }

    /// True if `word` (any case) is a known first name or surname.
    pub fn is_name(&self, word: &str) -> bool {
        let mut b = String::new();
        self.flags(word, &mut b) & (FIRST | LAST) != 0
    }

    /// True if `text` holds a lower-case common English word ("My zip code
    /// is"): prose, not a place line of an address block.
    pub fn has_common_word(&self, text: &str) -> bool {
        let mut b = String::new();
        text.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '-'))
            .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
            .any(|w| {
                let f = self.flags(w, &mut b);
                f & (COMMON | ARTICLE) != 0 && f & (CITY | COUNTRY | PARTICLE) == 0
            })
    }

    /// True if `name` (any case, words separated by spaces) is a country.
    pub fn is_country(&self, name: &str) -> bool {
        self.place_flags(name) & COUNTRY != 0
    }

    /// True if `name` (any case, words separated by spaces) is a city.
    pub fn is_city(&self, name: &str) -> bool {
        self.place_flags(name) & CITY != 0
    }

    /// The flags of a (multi-word) place name, keyed as the lists are:
    /// lower case, words joined by one space.
    fn place_flags(&self, name: &str) -> u16 {
        let mut b = String::new();
        let joined = name.split_whitespace().collect::<Vec<_>>().join(" ");
        push_lower(&mut b, &joined);
        self.words.get(b.as_bytes()).unwrap_or(0)
    }

    /// True if `word` is one of the common English words.
    pub fn is_common(&self, word: &str) -> bool {
        let mut b = String::new();
        self.flags(word, &mut b) & COMMON != 0
    }

    /// True if `word` is an ordinary English word: a common word of the
    /// lists, or one [`english_like`](Self::english_like) accepts
    /// ("defence", "organised"); capitalised, only as
    /// [`english_like_capitalised`](Self::english_like_capitalised) does
    /// ("Smithers" is no "smith" + "-ers").
    pub fn is_ordinary(&self, word: &str) -> bool {
        if self.is_common(word) {
            return true;
        }
        let lower = word.to_lowercase();
        if word.chars().next().is_some_and(char::is_uppercase) {
            self.english_like_capitalised(&lower)
        } else {
            self.english_like(&lower)
        }
    }

    /// Whether a word that no list holds is an English word all the same:
    /// a British spelling of a listed word ("favour", "organised"), one
    /// made from a listed word by common affixes ("bots", "blocker",
    /// "exertional", "unlawfulness", "pensionable"), a hyphenated compound
    /// of such words ("pre-trial"), or a medical term by its ending
    /// ("hyperlipidemia", "metformin", "amlodipine"). The dictionary lists
    /// American base forms; clinical notes, judgments and tickets are full
    /// of the rest, and an unknown word is otherwise taken for a name or a
    /// place ("switched to metformin", "resume beta blocker"). Names seldom
    /// decompose so: "lubbeek", "jessheim", "kowalczyk" do not, and
    /// anything with a letter beyond ASCII is left alone ("ruše").
    ///
    /// Out of line and only on the rare paths that are about to make an
    /// unknown word a name or a place.
    #[inline(never)]
    fn english_like(&self, word: &str) -> bool {
        self.english_like_in(word, false)
    }

    /// [`english_like`](Self::english_like) for a capitalised word, which
    /// is more often a name made of English parts ("Innography",
    /// "Recipal", "Brown-Weaver", "Prediger"): only a British spelling or
    /// an inflection of a listed word ("Labour", "Offences", "Meds").
    #[inline(never)]
    fn english_like_capitalised(&self, word: &str) -> bool {
        self.english_like_in(word, true)
    }

    fn english_like_in(&self, word: &str, strict: bool) -> bool {
        let w = word.as_bytes();
        if w.len() < 3
            || w.len() > WORD_MAX
            || !w
                .iter()
                .all(|b| b.is_ascii_alphabetic() || *b == b'-' || *b == b'\'')
        {
            return false;
        }
        let mut buf = [0u8; WORD_MAX];
        let lower = &mut buf[..w.len()];
        lower.copy_from_slice(w);
        lower.make_ascii_lowercase();
        let lower = lower.strip_suffix(b"'s").unwrap_or(lower);
        let hyphen = lower.contains(&b'-');
        if strict {
            return !hyphen && may_inflect(lower) && self.inflects(lower);
        }
        if medical_term(lower) {
            return true;
        }
        if hyphen {
            // Every part a word, a derived word or a prefix ("pre-trial",
            // "follow-up"; "x-ray" is no such compound: "x" is neither).
            return lower.split(|&b| b == b'-').all(|p| {
                PREFIXES.iter().any(|x| x.as_bytes() == p) || self.derives(p, DERIVE_DEPTH)
            });
        }
        self.derives(lower, DERIVE_DEPTH)
    }

    /// Whether `w` is a listed ordinary word.
    fn is_word(&self, w: &[u8]) -> bool {
        w.len() >= 3 && self.words.get(w).is_some_and(|f| f & (DICT | COMMON) != 0)
    }

    /// Whether lower-case `w` is a listed ordinary word, its common British
    /// spelling, or one of their plurals, past forms and "-ing" forms.
    fn inflects(&self, w: &[u8]) -> bool {
        let inflected = |f: &[u8]| {
            self.is_word(f)
                || [&b"s"[..], b"es", b"ed", b"ing", b"ings"]
                    .iter()
                    .any(|suf| {
                        f.strip_suffix(*suf).is_some_and(|stem| {
                            // As long as any respelled form, plus the "e".
                            let mut e = [0u8; WORD_MAX + 9];
                            e[..stem.len()].copy_from_slice(stem);
                            e[stem.len()] = b'e';
                            self.is_word(stem) || self.is_word(&e[..=stem.len()])
                        })
                    })
        };
        if inflected(w) {
            return true;
        }
        let mut buf = [0u8; WORD_MAX + 8];
        BRITISH[..BRITISH_COMMON].iter().any(|(from, to)| {
            respell(w, from.as_bytes(), to.as_bytes(), &mut buf).is_some_and(&inflected)
        })
    }

    /// Whether lower-case `w` is a listed ordinary word, or one within
    /// `depth` steps of affix stripping and British-to-American respelling.
    fn derives(&self, w: &[u8], depth: u8) -> bool {
        if w.len() < 3 || w.len() > WORD_MAX {
            return false;
        }
        if self.is_word(w) {
            return true;
        }
        if depth == 0 {
            return false;
        }
        let mut buf = [0u8; WORD_MAX + 8];
        // Respelled as written, before any affix is taken off.
        if depth == DERIVE_DEPTH {
            for (from, to) in BRITISH {
                if let Some(f) = respell(w, from.as_bytes(), to.as_bytes(), &mut buf)
                    && self.derives(f, depth - 1)
                {
                    return true;
                }
            }
        }
        for suf in SUFFIXES_EN {
            let Some(stem) = w.strip_suffix(suf.as_bytes()) else {
                continue;
            };
            let n = stem.len();
            if n < 3 {
                continue;
            }
            // The stem as written, with the "e" a suffix drops
            // ("herniate-d"), with a doubled consonant undone ("stopp-er"),
            // and with "i" back to "y" ("happi-ness").
            if self.derives(stem, depth - 1) {
                return true;
            }
            buf[..n].copy_from_slice(stem);
            buf[n] = b'e';
            if self.derives(&buf[..=n], depth - 1) {
                return true;
            }
            if stem[n - 1] == stem[n - 2]
                && !b"aeiou".contains(&stem[n - 1])
                && self.derives(&stem[..n - 1], depth - 1)
            {
                return true;
            }
            if stem[n - 1] == b'i' {
                buf[..n].copy_from_slice(stem);
                buf[n - 1] = b'y';
                if self.derives(&buf[..n], depth - 1) {
                    return true;
                }
            }
        }
        for pre in PREFIXES {
            if let Some(rest) = w.strip_prefix(pre.as_bytes())
                && rest.len() >= 3
                && self.derives(rest, depth - 1)
            {
                return true;
            }
        }
        false
    }

    /// The flags of the word `w` starting at `start`; for a word in no
    /// list, those of its parts if it is a compound (`compound_flags`).
    #[inline(always)]
    fn word_flags(&self, text: &str, start: usize, w: &Word, buf: &mut String) -> u16 {
        let len = w.end - start;
        let flags = if w.ascii && len <= INLINE {
            self.words
                .get_short(short_key(text.as_bytes(), start, len), len)
                .unwrap_or(0)
        } else {
            self.flags(&text[start..w.end], buf)
        };
        if flags == 0 {
            self.compound_flags(&text[start..w.end], buf)
        } else {
            flags
        }
    }

    /// Everything at byte `start` that is not a short plain ASCII word
    /// (`short_plain_word`) nor an ASCII byte between words: longer or
    /// joined words, non-ASCII words and non-ASCII chars between words.
    /// `class` is `start`'s byte class. Kept out of `tokenize` so that its
    /// hot loop, one turn per word, keeps its state in registers.
    #[inline(never)]
    fn rare_step(&self, text: &str, start: usize, class: u8, buf: &mut String) -> Step {
        if class & B_LETTER != 0 {
            let w = plain_ascii_word(text.as_bytes(), start, class)
                .unwrap_or_else(|| scan_word(text, start));
            let flags = self.word_flags(text, start, &w, buf);
            return Step::Word(w, class & B_UPPER != 0, flags);
        }
        let c = text[start..].chars().next().unwrap_or(' ');
        if !is_alphabetic(c) {
            let (sentence, keeps_join) = match c {
                '\u{a0}' => (false, true),
                '“' | '”' | '•' => (true, false),
                _ => (false, false),
            };
            return Step::Gap {
                len: c.len_utf8(),
                sentence,
                keeps_join,
            };
        }
        let w = scan_word(text, start);
        Step::Word(w, c.is_uppercase(), self.word_flags(text, start, &w, buf))
    }

    /// A hyphenated word in no list whose parts are all ordinary words or
    /// short capitals ("Content-Type", "X-Forwarded-For", "User-Agent",
    /// "E-Mail"): an ordinary word (`DICT`), not an unknown name. HTTP
    /// headers and labels in logs were persons. A part that is a name and
    /// no common word ("Jean-Luc", "Rose-Marie") or unknown ("Al-Sayed")
    /// leaves the word unknown (0); so do parts that are all names, even
    /// common words ("Wood-Smith"): one part must be no name at all.
    ///
    /// A camel-case word ("UserService", "NullPointerException", "MySQL",
    /// "HttpClient") is an identifier of code or a product name when each
    /// of its parts is an ordinary word that is no name, or short capitals:
    /// logs and code had their class names rewritten as persons. Any part
    /// that is a name ("DeRose", "McKenzie") or unknown ("JavaScript")
    /// leaves it unknown.
    fn compound_flags(&self, word: &str, buf: &mut String) -> u16 {
        if !word.contains('-') {
            return self.camel_flags(word, buf);
        }
        let mut plain = false;
        let known = word.split('-').all(|part| {
            if (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_uppercase()) {
                plain = true;
                return true;
            }
            let f = self.flags(part, buf);
            if f & (FIRST | LAST) == 0 {
                plain |= f & (DICT | COMMON) != 0;
                f & (DICT | COMMON) != 0
            } else {
                f & COMMON != 0
            }
        });
        if known && plain { DICT } else { 0 }
    }

    /// The flags of the unknown capitalised plain word `start..end` with
    /// a lower-case letter: those of a camel-case compound, else 0. Cold
    /// and out of line: a few words a record get here, and the check
    /// inlined in the tokenizer's word loop cost it registers.
    #[cold]
    #[inline(never)]
    fn mixed_case_flags(&self, text: &str, start: usize, end: usize, buf: &mut String) -> u16 {
        if text.as_bytes()[start + 1..end]
            .iter()
            .any(u8::is_ascii_uppercase)
        {
            self.camel_flags(&text[start..end], buf)
        } else {
            0
        }
    }

    /// [`Gazetteers::compound_flags`] of a word without hyphens: an
    /// ordinary word (`DICT | COMMON`: no cue makes it a name, "from
    /// PaymentGateway") when it splits into camel-case parts ("User|Service",
    /// "My|SQL", "SQL|Server") that are each short capitals or a dictionary
    /// word, one of them no name at all; else 0.
    fn camel_flags(&self, word: &str, buf: &mut String) -> u16 {
        let b = word.as_bytes();
        // A cut before a capital that follows a lower-case letter ("rS" of
        // "UserService"), and before the last capital of a run of them
        // that a lower-case letter follows ("LS|erver" of "SQLServer").
        let cut_at = |i: usize| {
            b[i].is_ascii_uppercase()
                && (b[i - 1].is_ascii_lowercase()
                    || b[i - 1].is_ascii_uppercase()
                        && b.get(i + 1).is_some_and(u8::is_ascii_lowercase))
        };
        if b.len() < 4
            || !b[0].is_ascii_uppercase()
            || !b.iter().all(u8::is_ascii_alphabetic)
            || !(1..b.len()).any(cut_at)
        {
            return 0;
        }
        // As for hyphens, one part must be no name at all; a part that is
        // a name must be a dictionary word as well ("User", "Service" and
        // "Gateway" are surnames too), and a two-letter part a common word
        // that is no name ("My" of "MySQL", not "De" of "DeRose").
        let mut plain = false;
        let mut from = 0;
        for to in (1..=b.len()).filter(|&i| i == b.len() || cut_at(i)) {
            let part = &word[from..to];
            from = to;
            if (1..=4).contains(&part.len()) && part.bytes().all(|x| x.is_ascii_uppercase()) {
                continue;
            }
            let f = self.flags(part, buf);
            let name = f & (FIRST | LAST) != 0;
            let ok = match part.len() {
                0 | 1 => false,
                2 => !name && f & COMMON != 0,
                _ => f & (DICT | COMMON) != 0,
            };
            if !ok {
                return 0;
            }
            plain |= !name;
        }
        if plain { DICT | COMMON } else { 0 }
    }

    #[inline(never)]
    fn tokenize(&self, text: &str, toks: &mut Vec<Tok>, buf: &mut String) {
        toks.clear();
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        // Sentence starts: text start, after . ! ? : ; newline, quotes, bullets.
        let mut sentence_start = true;
        // Where the previous word ended if only spaces may follow it for
        // the next word to be joined to it; `usize::MAX` once anything
        // else came between (or before the first word). A word is joined
        // if it starts past this: not right at a kept dot ("Dr.Smith").
        let mut join_after = usize::MAX;
        while i < n {
            let class = BYTE_CLASS[bytes[i] as usize];
            if class == B_SPACE {
                i += 1;
                continue;
            }
            let start = i;
            let (w, after, cap, mut flags) = if class & B_LETTER != 0
                && let Some(p) = short_plain_word(bytes, start)
            {
                let w = Word {
                    end: p.end,
                    letters: p.end - start,
                    lower: p.lower,
                    ascii: true,
                };
                let mut flags = self.words.get_short(p.key, p.end - start).unwrap_or(0);
                // A word in no list that mixes cases may be a camel-case
                // compound ("UserService"): as `word_flags` does.
                if flags == 0 && p.lower && class & B_UPPER != 0 {
                    flags = self.mixed_case_flags(text, start, p.end, buf);
                }
                (w, p.after, class & B_UPPER != 0, flags)
            } else if class & (B_LETTER | B_HIGH) == 0 {
                // ASCII between words. "Dr." is handled with its word; any
                // other dot ends a sentence, unless it is inside a number
                // or abbreviation.
                sentence_start |= class & B_SENTENCE != 0;
                join_after = usize::MAX;
                i += 1;
                continue;
            } else {
                match self.rare_step(text, start, class, buf) {
                    Step::Word(w, cap, flags) => {
                        (w, bytes.get(w.end).copied().unwrap_or(0), cap, flags)
                    }
                    Step::Gap {
                        len,
                        sentence,
                        keeps_join,
                    } => {
                        sentence_start |= sentence;
                        if !keeps_join {
                            join_after = usize::MAX;
                        }
                        i += len;
                        continue;
                    }
                }
            };
            let end = w.end;
            let all_caps =
                w.letters >= 2 && (!w.lower || cap && acronym_plural(&bytes[start..end]));
            let mut tend = end;
            let mut initial = false;
            if after == b'.' {
                // A single capital before a dot is an initial ("J.").
                initial = w.letters == 1 && cap;
                if initial {
                    flags &= !(COMMON | CITY | COUNTRY);
                }
                // "Dr." vs "Dr": titles and initials keep their dot.
                if initial || flags & TITLE != 0 {
                    tend = end + 1;
                }
            }
            if flags & NOT_NAME != 0
                || flags & LAST != 0 && w.letters == 2 && number_sign(bytes, start, end)
            {
                flags &= !(FIRST | LAST);
            }
            toks.push(Tok {
                start,
                end: tend,
                flags,
                cap,
                all_caps,
                initial,
                sentence_start,
                joined_prev: start > join_after,
            });
            join_after = tend;
            i = tend;
            sentence_start = false;
        }
    }

    /// Add PERSON and LOCATION spans for `text` to `out`.
    #[inline(never)]
    pub fn find(&self, text: &str, out: &mut Vec<Span>) {
        // Per-thread buffers: most records are short, and three fresh
        // allocations each were a measurable part of a scan.
        thread_local! {
            static BUFS: std::cell::RefCell<(Vec<Tok>, Vec<bool>, String)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new(), String::new())) };
        }
        BUFS.with(|cell| {
            let mut fresh = Default::default();
            let mut guard = cell.try_borrow_mut();
            let (toks, taken, buf) = match guard.as_deref_mut() {
                Ok(b) => b,
                Err(_) => &mut fresh,
            };
            self.tokenize(text, toks, buf);
            taken.clear();
            taken.resize(toks.len(), false);
            self.find_places(text, toks, taken, buf, out);
            self.find_people(text, toks, taken, out);
            super::trim_scratch(toks);
            super::trim_scratch(taken);
        });
    }

    #[inline(never)]
    fn find_places(
        &self,
        text: &str,
        toks: &[Tok],
        taken: &mut [bool],
        buf: &mut String,
        out: &mut Vec<Span>,
    ) {
        // Most words are neither a place nor the start of one. Nor is a
        // lower-case ordinary word ("the", "of", "to", all three in the
        // lists): it starts no longer place (see below) and scores 0 as
        // one. `all_caps` too, as a word of uncased letters ("東京") is
        // all capitals without a capital first.
        let no_place = |t: &Tok| {
            t.flags & (PLACE_PREFIX | CITY | COUNTRY) == 0
                || !t.cap && !t.all_caps && t.flags & COMMON != 0
        };
        let mut i = 0;
        while i < toks.len() {
            // A loop of its own: the index alone changes per word.
            while toks.get(i).is_some_and(no_place) {
                i += 1;
            }
            let Some(&t) = toks.get(i) else {
                break;
            };
            // Longest multi-word place first. A prefix that is an ordinary
            // lower-case word ("the", "new") starts no place name.
            let mut best: Option<(usize, u16)> = None;
            // (A longer place needs a next word joined to this one.)
            if t.flags & PLACE_PREFIX != 0
                && (t.cap || t.flags & COMMON == 0)
                && toks.get(i + 1).is_some_and(|n| n.joined_prev)
            {
                // `buf` holds the key of words `i..j` once built: the first
                // step, most often the last, seldom needs it.
                let mut built = false;
                let mut j = i + 1;
                while j < toks.len() && j - i < self.max_place_words && toks[j].joined_prev {
                    let (seen, whole) = if !built
                        && let Some(len) = short_ascii_pair(text.as_bytes(), &t, &toks[j])
                    {
                        let key = short_key(text.as_bytes(), t.start, len);
                        let seen = self.place_prefixes.get_short(key, len).unwrap_or(0);
                        (
                            seen,
                            (seen & WHOLE_PLACE != 0).then(|| self.words.get_short(key, len)),
                        )
                    } else {
                        if !built {
                            buf.clear();
                            push_lower(buf, &text[t.start..t.end]);
                            for n in &toks[i + 1..j] {
                                buf.push(' ');
                                push_lower(buf, &text[n.start..n.end]);
                            }
                            built = true;
                        }
                        buf.push(' ');
                        push_lower(buf, &text[toks[j].start..toks[j].end]);
                        let seen = self.place_prefixes.get(buf.as_bytes()).unwrap_or(0);
                        (
                            seen,
                            (seen & WHOLE_PLACE != 0).then(|| self.words.get(buf.as_bytes())),
                        )
                    };
                    // Only a multi-word place's key has a space and a
                    // place flag.
                    if let Some(Some(f)) = whole
                        && f & (CITY | COUNTRY) != 0
                    {
                        best = Some((j, f));
                    }
                    if seen & LEADS_ON == 0 {
                        // No place name starts with these words.
                        break;
                    }
                    j += 1;
                }
            }
            if best.is_none() && t.flags & (CITY | COUNTRY) != 0 {
                best = Some((i, t.flags));
            }
            let Some((j, f)) = best else {
                i += 1;
                continue;
            };
            // "Lyon, France", "Amman, Jordan": a country after a place and
            // a comma is where that place is, even one that is a given
            // name too.
            let cue = i > 0 && toks[i - 1].flags & PLACE_CUE != 0 && toks[i].joined_prev
                || after_postcode(text.as_bytes(), t.start)
                || f & COUNTRY != 0
                    && i > 0
                    && taken[i - 1]
                    && text[toks[i - 1].end..t.start].trim() == ",";
            let multi = j > i;
            let common = !multi && t.flags & COMMON != 0;
            // A country that is only a surname ("Germany", "Austria",
            // "England" are all in the surname lists) is the country unless
            // a title, an initial or a given name comes right before it
            // ("Mr Poland", "J. England", "Paul England"). "Jordan" and
            // "Georgia" are given names too: the name detector decides.
            let surname_country = f & COUNTRY != 0
                && t.flags & (FIRST | LAST) == LAST
                && !(t.joined_prev
                    && i > 0
                    && (toks[i - 1].initial
                        || toks[i - 1].flags & TITLE != 0
                        || toks[i - 1].cap && toks[i - 1].flags & FIRST != 0));
            let person_like = !multi && !surname_country && t.flags & (FIRST | LAST) != 0;
            let cap = t.cap && !t.all_caps || t.all_caps && (multi || t.end - t.start > 3);
            let country = f & COUNTRY != 0;
            let score: f32 = if cap {
                if common && country && !t.sentence_start {
                    // "Japan", "Chad": lower-case senders of these words are
                    // rare next to the capitalised country.
                    0.8
                } else if common {
                    if cue && !t.sentence_start { 0.6 } else { 0.0 }
                } else if person_like && !cue {
                    // "Jordan", "Florence": the name detector decides.
                    0.0
                } else if country || cue || multi {
                    0.85
                } else {
                    0.7
                }
            } else if common || t.end - t.start < 4 {
                0.0
            } else if country {
                0.7
            } else if cue {
                0.55
            } else if person_like {
                // "follow up with tracy smith": as for a capitalised one,
                // the name detector decides ("Tracy" is a city too).
                0.0
            } else {
                0.4
            };
            // "closer to March", "until March": a month, though March is a
            // town too. A town when its region follows ("March,
            // Cambridgeshire") or a postcode comes before it.
            let score = if score > 0.0
                && !multi
                && month_lead(&text.as_bytes()[t.start..t.end])
                && crate::months::parse(&text[t.start..t.end]).is_some()
                && !after_postcode(text.as_bytes(), t.start)
                && !text[t.end..]
                    .strip_prefix(", ")
                    .is_some_and(|r| r.starts_with(char::is_uppercase))
            {
                0.0
            } else {
                score
            };
            if score > 0.0 {
                out.push(self.place_span(t.start, toks[j].end, score));
                for k in taken.iter_mut().take(j + 1).skip(i) {
                    *k = true;
                }
                i = j + 1;
            } else {
                i += 1;
            }
        }
    }

    #[inline(never)]
    fn find_people(&self, text: &str, toks: &[Tok], taken: &mut [bool], out: &mut Vec<Span>) {
        let mut i = 0;
        while i < toks.len() {
            // Most words start nothing: a lower-case known word that is no
            // first name (the checks below, in their cheapest order). A
            // plain `continue`: one index to step, where `position` kept
            // six (and an inner loop as many).
            // Through a reference: the filter reads three fields, a copy
            // of the token loaded all of them for every word.
            let t = &toks[i];
            if !(t.cap
                || t.initial
                || t.flags & (FIRST | TITLE) != 0
                || t.flags & (DICT | COMMON | PARTICLE) == 0)
            {
                i += 1;
                continue;
            }
            let t = *t;
            let starts_run = (t.cap || t.initial) && !taken[i] && t.flags & TITLE == 0;
            if !starts_run {
                if t.cap || taken[i] {
                    i += 1;
                    continue;
                }
                // (A given name is left to the name finder below: "talked
                // to sarah" made a town of her.)
                if t.joined_prev
                    && i > 0
                    && toks[i - 1].flags & PLACE_CUE != 0
                    && t.flags & (DICT | COMMON | PARTICLE | FIRST) == 0
                    && t.end - t.start >= 4
                    && !part_of_identifier(text.as_bytes(), t.end)
                    && lower_place_cue(&text[toks[i - 1].start..toks[i - 1].end])
                    && !self.english_like(&text[t.start..t.end])
                {
                    // "grew up in lubbeek": an unknown lower-case word after a
                    // place preposition, unless it is an English word the
                    // lists lack ("speaking to bots", "switched to metformin")
                    // or the preposition is "of" ("3 days of exertional
                    // chest pain").
                    out.push(self.place_span(t.start, t.end, 0.5));
                    i += 1;
                    continue;
                }
                // "says jonsson", "my name is jonsson": a surname in lower
                // case, one that is no word, after a speech verb or a name
                // cue. (A given name is the name finder's below.)
                if t.flags & (FIRST | LAST) == LAST
                    && t.flags & (DICT | COMMON | PARTICLE | NOT_NAME) == 0
                    && t.end - t.start >= 3
                    && speech_or_name_cue(text, toks, i)
                    && !part_of_identifier(text.as_bytes(), t.end)
                {
                    out.push(self.person_span(t.start, t.end, 0.6));
                    i += 1;
                    continue;
                }
                // "she named him randy": a given name that is a word too,
                // after naming someone.
                if t.flags & FIRST != 0
                    && t.flags & NOT_NAME == 0
                    && t.end - t.start >= 3
                    && named_object(text, toks, i)
                    && !part_of_identifier(text.as_bytes(), t.end)
                {
                    out.push(self.person_span(t.start, t.end, 0.7));
                    i += 1;
                    continue;
                }
                // "mr. martin", "dr. hurst": a lower-case title with its
                // dot, then a name, even one that is a word too.
                if t.flags & TITLE != 0
                    && let Some(end_tok) = lower_titled_name(text.as_bytes(), toks, i)
                {
                    out.push(self.person_span(t.start, toks[end_tok].end, 0.85));
                    i = end_tok + 1;
                    continue;
                }
                // Only a first name starts a lower-case name: most words
                // end here without the call.
                if t.flags & FIRST != 0
                    && let Some((end_tok, score)) = self.lower_case_name(text.as_bytes(), toks, i)
                    && !month_in_date(text, t.start, t.end)
                {
                    {
                        let end = toks[end_tok].end;
                        // "(jane_smith88)": a name inside a handle makes the
                        // whole handle a user name; the name alone would
                        // leave "_smith88".
                        let (hs, he) = handle_around(text.as_bytes(), t.start, end);
                        if (hs, he) != (t.start, end) {
                            out.push(span(hs, he, &self.username, score, &self.det_name));
                            while i < toks.len() && toks[i].start < he {
                                i += 1;
                            }
                            continue;
                        }
                        // "mr. chad farmer": the title belongs to the name.
                        let start = if i > 0 && t.joined_prev && toks[i - 1].flags & TITLE != 0 {
                            toks[i - 1].start
                        } else {
                            t.start
                        };
                        out.push(self.person_span(start, end, score));
                        i = end_tok + 1;
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            // "PCP Dr. Nguyen", "HPI": an acronym opens no run of words
            // written otherwise; the next word opens its own.
            if is_acronym(text, &t)
                && toks.get(i + 1).is_some_and(|n| {
                    n.joined_prev && (n.cap || n.initial) && !n.all_caps && !taken[i + 1]
                })
            {
                i += 1;
                continue;
            }
            // Grow a run of capitalised words (particles allowed inside).
            let mut j = i;
            while j + 1 < toks.len() {
                let n = &toks[j + 1];
                if !n.joined_prev || taken[j + 1] || j + 1 - i >= 4 {
                    break;
                }
                // "Maria  DOB:": nor does one join a run written otherwise.
                if is_acronym(text, n) && !toks[i..=j].iter().all(|t| t.all_caps) {
                    break;
                }
                // A title opens the name after it ("Gentile Sig. Rossi",
                // "Police Officer Ann Lee"): what comes before is no part
                // of it. Not a word title with a dot after it: that dot
                // ends the sentence ("the University President. On 19
                // February").
                if n.flags & TITLE != 0
                    && (text.as_bytes()[n.end - 1] != b'.' || n.end - n.start <= 5)
                {
                    break;
                }
                if n.cap || n.initial {
                    j += 1;
                    continue;
                }
                // "van der Voet": particles followed by a capitalised word.
                if n.flags & PARTICLE != 0 {
                    let mut k = j + 1;
                    while k < toks.len() && toks[k].flags & PARTICLE != 0 && toks[k].joined_prev {
                        k += 1;
                    }
                    if k < toks.len() && toks[k].cap && toks[k].joined_prev {
                        j = k;
                        continue;
                    }
                }
                break;
            }
            // "Diana Weöres Apt. 434": a unit word ends the name.
            if let Some(k) = (i + 1..=j).find(|&k| toks[k].flags & UNIT_WORD != 0) {
                j = k - 1;
            }
            // "In April 1995", "by March": a month that ends the run is a
            // date's, not a name's (the run is "In April", which no check
            // of the whole run sees as a month). Left out of the run.
            // Each word looked at once; nearly every run stops at its last.
            let (end_tok, mut months_only) = (j, false);
            while month_not_name(text, toks[j].start, toks[j].end) {
                if j == i {
                    months_only = true;
                    break;
                }
                j -= 1;
            }
            if months_only {
                i = end_tok + 1;
                continue;
            }
            let run = &toks[i..=j];
            // An organisation or street word in the run: not a person.
            if run
                .iter()
                .any(|t| t.flags & (ORG_WORD | STREET_WORD) != 0 && t.flags & (FIRST | LAST) == 0)
                || run.last().is_some_and(|t| t.flags & ORG_WORD != 0)
            {
                i = j + 1;
                continue;
            }
            // "Promoted to Senior Engineer", "our Lead Developer": a job
            // title, though Senior and Lead are surnames too.
            if let [_, .., last] = run
                && last.flags & (FIRST | LAST) == 0
                && is_job_word(&text[last.start..last.end])
            {
                i = j + 1;
                continue;
            }
            let prev = (i > 0 && toks[i].joined_prev).then(|| toks[i - 1]);
            let titled = prev.is_some_and(|p| p.flags & TITLE != 0);
            // "Hansen Street", "Baker Street": a name before a street word
            // names a street, though Street and Lane are surnames too. A
            // title ("Mr. Street") or a first name that is no ordinary word
            // ("Della Street", "Lois Lane") still makes a person. The span
            // is the street word and the name-like words before it; it
            // scores under the `street_named` rule, which takes it where
            // it matches too (its ASCII `\b` misses "Çiftçi Street").
            if let [.., before, last] = run
                && last.flags & STREET_WORD != 0
                && !titled
                && last.cap
                && !(before.flags & FIRST != 0 && before.flags & COMMON == 0)
                && STREET_NAME_ENDS
                    .iter()
                    .any(|w| text[last.start..last.end].eq_ignore_ascii_case(w))
            {
                let name_like =
                    |t: &Tok| t.flags & (FIRST | LAST) != 0 || t.flags & (DICT | COMMON) == 0;
                let mut a = run.len() - 1;
                while a > 0 && name_like(&run[a - 1]) {
                    a -= 1;
                }
                if a < run.len() - 1 {
                    out.push(span(
                        run[a].start,
                        last.end,
                        &self.address,
                        0.5,
                        &self.det_street,
                    ));
                }
                i = j + 1;
                continue;
            }
            let strong_name = run.iter().any(|t| {
                t.flags & (FIRST | LAST) != 0 && t.flags & COMMON == 0
                    || t.flags & (DICT | COMMON) == 0
            });
            if !titled && !strong_name && prev.is_some_and(|p| p.flags & ARTICLE != 0) {
                // "the Princess Royal", "a Big Three song".
                i = j + 1;
                continue;
            }
            let cued =
                prev.is_some_and(|p| p.flags & PERSON_CUE != 0) || named_object(text, toks, i);
            let place_cued = prev.is_some_and(|p| p.flags & PLACE_CUE != 0 && !p.cap);
            // "29 January 2002", "Sent June 5": a month, however many people
            // are called April or June; nor is "in FEBRUARY 2003" a place.
            // Checked on the span about to be made (the run trimmed, as
            // "Sent" is from "Sent June"), not for every run.
            if place_cued
                && !cued
                && run
                    .iter()
                    .all(|t| t.all_caps && t.flags & (DICT | COMMON) == 0)
                && !month_in_date(text, run[0].start, run[run.len() - 1].end)
            {
                // "grew up in ΛΑΡΝΑΚΑ", "I am in PADASJOKI".
                out.push(self.place_span(run[0].start, run[run.len() - 1].end, 0.6));
                i = j + 1;
                continue;
            }
            // "Les chiffres montrent", "Ben voyons": one of these words
            // opening a sentence before a lower-case word that is no
            // English word is that language's word ("Les said", "Dan
            // called" stay names). Found as a name, the memory then took
            // every "les" of the text for it.
            if let [w] = run
                && w.sentence_start
                && w.flags & FIRST != 0
                && !titled
                && !cued
                && toks
                    .get(j + 1)
                    .is_some_and(|n| n.joined_prev && !n.cap && n.flags & (DICT | COMMON) == 0)
                && foreign_word_name(&text.as_bytes()[w.start..w.end])
            {
                i = j + 1;
                continue;
            }
            if let Some((s, e, score, known)) = self.judge_run(run, titled, cued)
                && !month_in_date(text, s, e)
                // "IPv6", "Win32", "Ubuntu_22": an unknown word glued to
                // digits or an identifier is a product or a name of a
                // thing, not of a person. (Not so a title or initials:
                // "Ms A.-M. Mendiboure".) Nor is one that digits or a `_`
                // run into: the letters inside a key, hash or base64 blob
                // ("...dh2l9GKJl" of an SSH key), rewritten, broke it.
                && (known
                    || titled
                    || run.iter().any(|t| t.initial)
                    || !(part_of_identifier(text.as_bytes(), e)
                        || runs_into_identifier(text.as_bytes(), s)))
                // "Meds:", "Vitals": capitalised words in no list that are
                // English words all the same are no name without a cue.
                && (known
                    || titled
                    || cued
                    || !run
                        .iter()
                        .filter(|t| t.start >= s && t.end <= e)
                        .all(|t| self.english_like_capitalised(&text[t.start..t.end])))
                // "Rule 44", "Page 12", "Article 6 and Rule 39": an
                // ordinary word that is a surname too, then a number, is a
                // reference to a part of something, however it is cued.
                && (titled
                    || !number_follows(text.as_bytes(), e)
                    || !run
                        .iter()
                        .any(|t| t.start == s && t.end == e && t.flags & COMMON != 0))
            {
                // Include the title in the span ("Mr. Grimes"): a title is
                // part of how the person is named.
                let start = if titled {
                    prev.map_or(s, |p| p.start)
                } else {
                    s
                };
                let mut span = self.person_span(start, e, score);
                if !titled
                    && !cued
                    && (!known && place_cued || postcode_line_before(text.as_bytes(), s))
                {
                    // "grew up in Hrušovany", "works at Solarlist": an unknown
                    // proper noun after a place preposition. "00184 Roma",
                    // "1100-053 Lisboa": the word after a postcode is its
                    // town, even one that is a given name.
                    span.entity = self.location;
                    span.detector = self.det_place;
                }
                out.push(span);
            }
            i = j + 1;
        }
    }

    /// Lower-case names ("don't go to town, judy", "follow up with jessica
    /// kadyrov"): a first name that is no ordinary word, optionally followed
    /// by a surname or an unknown word. Returns the last token and a score.
    fn lower_case_name(&self, text: &[u8], toks: &[Tok], i: usize) -> Option<(usize, f32)> {
        let t = toks[i];
        if t.flags & (TITLE | PARTICLE) != 0 || t.end - t.start < 3 {
            return None;
        }
        let first = t.flags & FIRST != 0;
        // "les factures", "della casa", "dan komt": a given name that is a
        // frequent word of another language starts a lower-case name only
        // before a listed surname ("ben smith"); before a word no list
        // knows, or alone, it is that language's word.
        // (Asked only where it decides: most lower-case given names end
        // at a listed surname or no name at all.)
        let foreign = || foreign_word_name(&text[t.start..t.end]);
        // A next word that runs on into a URL or host ("see https://...",
        // "ping dbhost01") is no surname.
        let next = toks.get(i + 1).filter(|n| {
            n.joined_prev && !n.cap && n.end - n.start >= 3 && !part_of_identifier(text, n.end)
        });
        let next_surname = next.is_some_and(|n| {
            n.flags & LAST != 0 && n.flags & COMMON == 0
                || n.flags & (DICT | COMMON | FIRST | PARTICLE | TITLE) == 0
                    && !(first && foreign())
        });
        // A common first word ("dawn", "add") needs a next word that can
        // only be a surname.
        // Not one the lists lack only in form ("resume beta blocker").
        let strong_next = || {
            next.is_some_and(|n| {
                n.flags & (DICT | FIRST) == 0
                    && !std::str::from_utf8(&text[n.start..n.end])
                        .is_ok_and(|w| self.english_like(w))
            })
        };
        if first && next_surname && (t.flags & COMMON == 0 || strong_next()) {
            return Some((i + 1, 0.6));
        }
        // "my wife mary smith": a first name that is no ordinary word, then
        // a surname that is one too ("smith", "brown", "king"), unless it
        // is a word that glues sentences together ("mary will call",
        // "sarah said").
        if first
            && t.flags & (COMMON | DICT) == 0
            && let Some(n) = next
            && n.flags & LAST != 0
            && n.flags & (PARTICLE | TITLE | STREET_WORD | UNIT_WORD | ORG_WORD) == 0
            && !glue_word(&text[n.start..n.end])
        {
            return Some((i + 1, 0.6));
        }
        if first && t.flags & (COMMON | DICT) == 0 && t.end - t.start >= 4 && !foreign() {
            return Some((i, 0.55));
        }
        None
    }

    /// Score a run of capitalised words; returns the span to keep and
    /// whether any of its words is a known name.
    fn judge_run(
        &self,
        run: &[Tok],
        titled: bool,
        cued: bool,
    ) -> Option<(usize, usize, f32, bool)> {
        let is_name = |t: &Tok| t.flags & (FIRST | LAST) != 0;
        let plain = |t: &Tok| t.flags & COMMON == 0;
        // Not an English word at all: likely a name of some kind.
        let unknown = |t: &Tok| t.flags & (DICT | COMMON | FIRST | LAST) == 0 && !t.initial;
        // Leading words that are ordinary words and not names ("Meet Jeffrey",
        // "Please Tamara") are dropped; so are trailing ones.
        let mut a = 0;
        let mut b = run.len();
        // Also a cue word that happens to be a surname ("Dear Hannah").
        let cue_word = |t: &Tok| t.flags & PERSON_CUE != 0 && !plain(t);
        // A common word opening a sentence ("Then Kowalczyk") is not part of
        // the name unless it is a first name before another name ("Will
        // Smith") or before a word no list knows ("Mark Muslija", "Dawn
        // Njivar": the given name was kept next to the rewritten surname);
        // a preposition or an article never is, though "In" and "An" are
        // given names too ("In Kevin Brown we trust", "In Smith v. Jones").
        let opener = |k: usize| {
            let t = &run[k];
            t.sentence_start
                && !plain(t)
                && k + 1 < b
                && (t.flags & FIRST == 0
                    || !is_name(&run[k + 1]) && !unknown(&run[k + 1])
                    || t.flags & (PLACE_CUE | ARTICLE) != 0)
        };
        while a < b
            && !run[a].initial
            && (!is_name(&run[a]) && !plain(&run[a]) || cue_word(&run[a]) && a + 1 < b || opener(a))
        {
            a += 1;
        }
        while b > a && !run[b - 1].initial && !is_name(&run[b - 1]) && !plain(&run[b - 1]) {
            b -= 1;
        }
        if a == b {
            return None;
        }
        let r = &run[a..b];
        // A stripped leading word can itself be the cue ("Hi John").
        let titled = if a == 0 {
            titled
        } else {
            run[a - 1].flags & TITLE != 0
        };
        let cued = if a == 0 {
            cued
        } else {
            run[a - 1].flags & PERSON_CUE != 0
        };
        let n_words = r
            .iter()
            .filter(|t| !t.initial && t.flags & PARTICLE == 0)
            .count();
        let first = r[0];
        let last = r[r.len() - 1];
        let known = r.iter().any(is_name);
        let score: f32 = if titled {
            0.95
        } else if n_words >= 2 || (r.len() >= 2 && first.initial) {
            let fname = first.flags & FIRST != 0 || first.initial;
            let lname = last.flags & LAST != 0 || last.flags & FIRST != 0;
            let all_caps = r.iter().all(|t| t.all_caps);
            let unknown_plain = |t: &Tok| !is_name(t) && plain(t);
            if all_caps && !(fname && lname) {
                0.0
            } else if fname && (lname || unknown_plain(&last)) {
                // Two common words both in the name lists ("Will Power",
                // "Grace Church") at a sentence start stay uncertain.
                let both_common = !plain(&first) && !plain(&last);
                if both_common && first.sentence_start && !cued {
                    0.45
                } else {
                    0.85
                }
            } else if lname && unknown_plain(&first) {
                0.7
            } else if r.iter().all(|t| unknown(t) || t.initial) {
                // Capitalised words that are in no dictionary: a foreign
                // name, a company, a village.
                if cued { 0.7 } else { 0.55 }
            } else if r.iter().all(|t| unknown_plain(t) || t.initial) {
                if cued { 0.6 } else { 0.4 }
            } else if cued && known {
                0.7
            } else if r.iter().any(|t| is_name(t) && plain(t)) {
                // "Port Edward": a real name inside a capitalised phrase.
                0.6
            } else {
                0.3
            }
        } else {
            // One word.
            let w = first;
            if w.all_caps && w.end - w.start <= 4 {
                0.0
            } else if w.flags & FIRST != 0 && plain(&w) {
                if w.sentence_start && !cued { 0.7 } else { 0.8 }
            } else if w.flags & LAST != 0 && plain(&w) {
                if cued { 0.75 } else { 0.6 }
            } else if is_name(&w) {
                // A name that is also an ordinary word: only mid-sentence
                // capitalisation or a cue makes it a name.
                if cued && (!w.sentence_start || w.flags & FIRST != 0) {
                    0.6
                } else if !w.sentence_start {
                    // "Capitalized words like Wisdom": too often a word.
                    0.45
                } else {
                    0.2
                }
            } else if unknown(&w) && w.end - w.start >= 3 && !w.all_caps {
                // Not a word of the language: at any position a likely name.
                if cued { 0.7 } else { 0.5 }
            } else if cued && plain(&w) && !w.sentence_start {
                0.5
            } else {
                0.0
            }
        };
        (score > 0.0).then_some((r[0].start, last.end, score, known))
    }

    fn person_span(&self, start: usize, end: usize, score: f32) -> Span {
        span(start, end, &self.person, score, &self.det_name)
    }

    fn place_span(&self, start: usize, end: usize, score: f32) -> Span {
        span(start, end, &self.location, score, &self.det_place)
    }
}

/// Whether a space and a short number follow `end` ("Rule 44", "Page
/// 12"): one to three digits that go on as no longer number does (a
/// phone number after a name, "call Baker 555 1234", is no reference).
fn number_follows(bytes: &[u8], end: usize) -> bool {
    if bytes.get(end) != Some(&b' ') {
        return false;
    }
    let digits = bytes[end + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let rest = &bytes[end + 1 + digits..];
    (1..=3).contains(&digits)
        && !matches!(rest, [b'-' | b'.' | b'/', d, ..] | [b' ', d, ..] if d.is_ascii_digit())
}

/// A word-list span (never validated: no checksum backs a name).
fn span(start: usize, end: usize, entity: &Name, score: f32, detector: &Name) -> Span {
    Span {
        start,
        end,
        entity: *entity,
        score,
        detector: *detector,
        validated: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn gaz() -> &'static Gazetteers {
        static G: OnceLock<Gazetteers> = OnceLock::new();
        G.get_or_init(Gazetteers::builtin)
    }

    fn found(text: &str, entity: &str, min: f32) -> Vec<String> {
        let mut v = Vec::new();
        gaz().find(text, &mut v);
        v.into_iter()
            .filter(|s| &*s.entity == entity && s.score >= min)
            .map(|s| text[s.start..s.end].to_string())
            .collect()
    }

    /// A short word in capitals the lists do not know is an abbreviation:
    /// it neither opens nor joins a name written in mixed case ("PCP
    /// Dr. Nguyen", "Maria  DOB:"). Names written all in capitals, known
    /// names in capitals and degrees after a name still join.
    #[test]
    fn abbreviations_are_no_part_of_a_name() {
        for (text, want) in [
            ("f/u with PCP Dr. Nguyen next week", vec!["Dr. Nguyen"]),
            (
                "Name: Gonzalez, Maria  DOB: 1962-07-19",
                vec!["Gonzalez", "Maria"],
            ),
            ("Seen by HPI Maria Lopez.", vec!["Maria Lopez"]),
            ("JOHN SMITH signed", vec!["JOHN SMITH"]),
            ("Jean DUPONTEL signed", vec!["Jean DUPONTEL"]),
            ("Sean Vizirov DVM called", vec!["Sean Vizirov DVM"]),
            ("Ann Lee CPA called", vec!["Ann Lee CPA"]),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), want, "{text}");
        }
    }

    /// A month after a word that puts a time, or in a date, is no person
    /// even at the end of a run of capitalised words ("In April 1995":
    /// "In" and "April" are both given names). People called April or
    /// June still are.
    #[test]
    fn a_month_after_a_time_word_is_no_person() {
        for text in [
            "In April 1995 the applicant was arrested.",
            "In June the court met.",
            "By March the case was closed.",
            "Since July, nothing happened.",
            "Until August 2001 he lived there.",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found("I met April Jones today.", "PERSON", 0.5),
            ["April Jones"]
        );
        assert_eq!(found("June Smith called.", "PERSON", 0.5), ["June Smith"]);
    }

    /// A preposition or an article that opens a sentence is no first
    /// name, though "In" and "An" are in the name lists: the name after it
    /// is found alone, and sure enough to be rewritten (with "In" it was a
    /// three-word name at 0.45, under the threshold, and left in the text).
    #[test]
    fn a_sentence_opening_preposition_is_no_first_name() {
        assert_eq!(
            found("In Kevin Brown we trust.", "PERSON", 0.5),
            ["Kevin Brown"]
        );
        assert_eq!(
            found("In April Jones said no.", "PERSON", 0.5),
            ["April Jones"]
        );
        // A first name that is a word still opens a name before another.
        assert_eq!(
            found("Hi, Grace Kelly here.", "PERSON", 0.5),
            ["Grace Kelly"]
        );
    }

    #[test]
    fn a_word_running_into_a_host_or_url_is_no_place_or_surname() {
        for text in [
            "deploy to kubeprod01",
            "pushed to staging-db-2 today",
            "sent to mailhost.internal now",
            "moved to logsrv/old",
            "connect to dbhost:5432",
        ] {
            assert_eq!(found(text, "LOCATION", 0.0), Vec::<String>::new(), "{text}");
        }
        // Nor is a word running into a URL a surname after a first name.
        for text in [
            "see https://example.com/docs",
            "ask jessica about https://x.org",
        ] {
            let people = found(text, "PERSON", 0.0);
            assert!(
                people.iter().all(|p| !p.contains("http")),
                "{text}: {people:?}"
            );
        }
        assert_eq!(
            found("follow up with jessica kadyrov", "PERSON", 0.0),
            ["jessica kadyrov"]
        );
        // A first name inside a handle: the whole handle is a user name.
        for (text, handle) in [
            (
                "Customer Jane Smith (jane_smith88) reported it",
                "jane_smith88",
            ),
            ("ping from dev_jane today", "dev_jane"),
            ("login jessica.k failed", "jessica.k"),
        ] {
            assert_eq!(found(text, "USERNAME", 0.0), [handle], "{text}");
            assert!(
                found(text, "PERSON", 0.0)
                    .iter()
                    .all(|p| !handle.contains(p.as_str())),
                "{text}"
            );
        }
        // An unknown capitalised word glued to digits is a thing; initials
        // before a hyphen are still a person.
        assert_eq!(
            found("IPv6 and Win32 builds", "PERSON", 0.0),
            Vec::<String>::new()
        );
        // Nor the letters that digits run into, inside a key or a hash.
        for text in [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            "token 4f9Xyzzq_Wombel end",
            "build v20240305Zorbatek",
        ] {
            assert_eq!(found(text, "PERSON", 0.0), Vec::<String>::new(), "{text}");
        }
        // A name that only opens with digits is still one.
        assert_eq!(
            found("a year at 5Psolutions as", "PERSON", 0.0),
            ["Psolutions"]
        );
        assert_eq!(
            found("represented by Ms A.-M. Mendiboure", "PERSON", 0.5)[0],
            "Ms A."
        );
        for (text, place) in [
            ("She grew up in lubbeek.", "lubbeek"),
            ("grew up in lubbeek, then left", "lubbeek"),
            ("I live in hrušovany: it is small", "hrušovany"),
        ] {
            assert_eq!(found(text, "LOCATION", 0.0), [place], "{text}");
        }
    }

    #[test]
    fn a_city_that_is_a_first_name_is_a_place_after_a_postcode() {
        for (text, city) in [
            ("12 rue de Rivoli, 75001 Paris", "Paris"),
            ("D-10115 Berlin", "Berlin"),
            ("PO Box 12, 2000 Sydney", "Sydney"),
        ] {
            assert!(
                found(text, "LOCATION", 0.8).contains(&city.to_string()),
                "{text}"
            );
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found("Paris Hilton called", "PERSON", 0.5),
            ["Paris Hilton"]
        );
        assert!(!after_postcode(b"Room 12 Paris", 8));
        assert!(!after_postcode(b"A12345 Paris", 7));
        assert!(after_postcode(b"12345  Paris", 7));
        assert!(after_postcode(b"1100-053 Lisboa", 9) && after_postcode(b"00-950 Warszawa", 7));
        assert!(!after_postcode(b"12-345-678 Lisboa", 11) && !after_postcode(b"x-053 Lisboa", 6));
        assert!(postcode_line_before(b"via Roma 10, 00184 Roma", 19));
        assert!(postcode_line_before(b"Rua X 1\n1100-053 Lisboa", 17));
        assert!(!postcode_line_before(b"in 1995 John", 8));
    }

    #[test]
    fn a_name_before_a_street_word_is_a_street_unless_it_is_a_person() {
        for (text, street) in [
            ("He lives on Hansen Street in Oslo.", "Hansen Street"),
            ("Visit Hansen Street today.", "Hansen Street"),
            ("I walked down Baker Street.", "Baker Street"),
            ("Meet at Çiftçi Street tomorrow.", "Çiftçi Street"),
            ("off Tuileries Lovrić Street", "Tuileries Lovrić Street"),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
            assert_eq!(found(text, "ADDRESS", 0.0), [street], "{text}");
        }
        for (text, person) in [
            ("Della Street is Perry Mason's secretary.", "Della Street"),
            ("I met Lois Lane.", "Lois Lane"),
            ("Mr. Street called.", "Mr. Street"),
            ("Dr. Kim Lane", "Dr. Kim Lane"),
        ] {
            assert_eq!(found(text, "PERSON", 0.5)[0], person, "{text}");
            assert_eq!(found(text, "ADDRESS", 0.0), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn a_month_in_a_date_is_no_name_but_the_same_word_as_a_name_is() {
        for (text, month) in [
            (
                "The applicant appealed on 29 January 2002 to the Ministry.",
                "January",
            ),
            ("On 16 April 2003 he left.", "April"),
            ("signed June 5, 2019 in the office", "June"),
            ("met on the 1st of June in the office", "June"),
            ("in August 1999 the court", "August"),
            ("from 3 Jan. to Sept. 2003", "Jan"),
            ("we spoke to june 2 days ago", "june"),
            ("Sent June 5, 2019 to them", "June"),
            ("Received August 12 by post", "August"),
        ] {
            let people = found(text, "PERSON", 0.0);
            assert!(
                !people.iter().any(|p| p.contains(month)),
                "{text}: {people:?}"
            );
        }
        assert_eq!(
            found("April Smith and June Carter met.", "PERSON", 0.5),
            ["April Smith", "June Carter"]
        );
        assert_eq!(found("Ask June about it.", "PERSON", 0.5), ["June"]);
        assert!(!month_in_date("Jan Novak wrote", 0, 3));
        // Every word `months::parse` knows, in each case: the quick
        // reject lets it through.
        let months = "january february march april may june july august september october \
                      november december jan feb mar apr jun jul aug sep sept oct nov dec";
        for w in months.split_whitespace() {
            let title = w[..1].to_uppercase() + &w[1..];
            for w in [w.to_string(), w.to_uppercase(), title] {
                assert!(crate::months::parse(&w).is_some(), "{w}");
                assert!(month_lead(w.as_bytes()), "{w}");
            }
        }
        assert!(!month_lead(b"Tamara") && !month_lead(b"Ja") && !month_lead(b"Januaryyyy"));
        assert!(month_in_date("12 of June", 6, 10));
        assert!(!month_in_date("Prof June Lee", 5, 9));
    }

    fn tokens(text: &str) -> Vec<Tok> {
        let (mut toks, mut buf) = (Vec::new(), String::new());
        gaz().tokenize(text, &mut toks, &mut buf);
        toks
    }

    /// The tokenizer as it was before the byte-class fast path (char by
    /// char, `str::ends_with` for possessives), kept as the oracle the
    /// fast one must agree with token for token.
    fn reference_tokenize(g: &Gazetteers, text: &str) -> Vec<Tok> {
        let mut toks = Vec::new();
        let buf = &mut String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        // Sentence starts: text start, after . ! ? : ; newline, quotes, bullets.
        let mut sentence_start = true;
        let mut joined = false;
        let mut prev_end = 0;
        // The char at byte `i`, with an ASCII fast path (most text).
        let char_at = |i: usize| -> char {
            let b = bytes[i];
            if b.is_ascii() {
                b as char
            } else {
                text[i..].chars().next().unwrap_or(' ')
            }
        };
        while i < text.len() {
            let c = char_at(i);
            if c.is_alphabetic() {
                let start = i;
                // Letters, and ' ’ - between letters.
                let mut end = i + c.len_utf8();
                let mut lower = usize::from(c.is_lowercase());
                let mut letters = 1usize;
                while end < text.len() {
                    let ch = char_at(end);
                    if ch.is_alphabetic() {
                        letters += 1;
                        lower += usize::from(ch.is_lowercase());
                        end += ch.len_utf8();
                    } else if matches!(ch, '\'' | '’' | '-')
                        && end + ch.len_utf8() < text.len()
                        && char_at(end + ch.len_utf8()).is_alphabetic()
                    {
                        end += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                // "Karen's": the name is "Karen".
                for poss in ["'s", "’s", "'S"] {
                    if end - start > poss.len() + 1 && text[start..end].ends_with(poss) {
                        end -= poss.len();
                        break;
                    }
                }
                let word = &text[start..end];
                let cap = c.is_uppercase();
                // `lower` counts a stripped possessive "s" too: close
                // enough for "is this word all capitals".
                let all_caps = letters >= 2 && (lower == 0 || acronym_plural(word.as_bytes()));
                let initial = letters == 1 && cap && bytes.get(end) == Some(&b'.');
                let mut flags = g.flags(word, buf);
                if flags == 0 {
                    flags = g.compound_flags(word, buf);
                }
                // "Dr." vs "Dr": titles and initials keep their dot.
                let mut tend = end;
                if bytes.get(end) == Some(&b'.') && (initial || flags & TITLE != 0) {
                    tend = end + 1;
                }
                if initial {
                    flags &= !(COMMON | CITY | COUNTRY);
                }
                if flags & NOT_NAME != 0
                    || flags & LAST != 0 && letters == 2 && number_sign(bytes, start, end)
                {
                    flags &= !(FIRST | LAST);
                }
                toks.push(Tok {
                    start,
                    end: tend,
                    flags,
                    cap,
                    all_caps,
                    initial,
                    sentence_start,
                    joined_prev: joined && !toks.is_empty() && start > prev_end,
                });
                prev_end = tend;
                i = tend;
                sentence_start = false;
                joined = true;
                continue;
            }
            match c {
                ' ' | '\u{a0}' => {}
                _ if c.is_ascii_digit() => {
                    joined = false;
                }
                '.' => {
                    // "Dr." handled above; any other dot ends a sentence,
                    // unless it is inside a number or abbreviation.
                    sentence_start = true;
                    joined = false;
                }
                '!' | '?' | ':' | ';' | '\n' | '\r' | '"' | '“' | '”' | '*' | '•' | '|' | '\t'
                | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '=' => {
                    sentence_start = true;
                    joined = false;
                }
                _ => {
                    joined = false;
                }
            }
            i += c.len_utf8();
        }
        toks
    }

    #[test]
    fn fast_tokenizer_matches_the_char_by_char_one() {
        let cases = [
            "",
            "a",
            "the quick brown fox jumps over the lazy dog",
            "Mr. Grimes is 50. Dr.Smith met J. R. R. Tolkien and J.R. Hartley.",
            "Karen's car, KAREN'S car, Karen’s car, Karen’S, A's, It's, Jo's",
            "O'Brien, rock'n'roll, 'quoted', end' -dash- Jean-Luc x- -y don’t ’s",
            "Mr.\u{a0}Grimes\u{a0}Smith and\u{a0}\u{a0}Anna",
            "Then Brzęczyszczykiewicz arrived. ΛΑΡΝΑΚΑ Diana Weöres Apt. 434",
            "İstanbul, ǅemal, 東京 and e\u{301}cole, Straße, STRASSE, ÆSIR",
            "“Anna” • Bob | Carl > (Dora) [Emil] {Fay} =Gus; Hal: Ida? Jo! \"Kim\"",
            "4th Avenue, 221B Baker Street\tLondon\r\nParis*Rome",
            "abcdefghijkl abcdefghijklm Abcdefghijk's abcdefghij’s twelvelettrs",
            "Villafranca del Cid, New York, San Francisco Bay, the Hague",
            "Mitchell's Anderson-Smith Abcdefgh’s Abcdefghé Abcdefgh. ABCDEFGHIJ and more",
            "Applicants GOVERNMENTS proceedings' Ministry-run Strasbourg–Paris text",
            "Content-Type: x X-Forwarded-For User-Agent Wood-Smith Rose-Marie re-entry",
            "NHS No. 943 No 12 Nr.5 no. 7 Mr No Invoice NO 4",
            "[UserService] NullPointerException OrderController PaymentGateway MySQL",
            "SQLServer HttpClient DeRose McKenzie LaToya JoAnn MysticWeb MRNs IDs",
            "x",
            "Zz",
            "end with a word that is long enough",
            "J.",
            "Dr.",
            "Dr",
            "É",
            "\u{a0}",
            "’",
            "a’",
            "a’b",
            "ab'",
            "ab's",
        ];
        for text in cases {
            assert_eq!(tokens(text), reference_tokenize(gaz(), text), "{text:?}");
        }
        // Every prefix of a mixed text: words cut at any byte (at char
        // boundaries) meet the end of the text.
        let mixed = "Dr. Anna-Lena O’Neil's Weöres-Kovács J. Smith’s A.";
        for (i, _) in mixed.char_indices() {
            let t = &mixed[..i];
            assert_eq!(tokens(t), reference_tokenize(gaz(), t), "{t:?}");
        }
    }

    /// Pieces the property test strings together: words the lists know in
    /// each case, words of the lengths where the fast scanner changes
    /// strategy (7 to 9, 12, 13 letters, over 255 bytes), non-ASCII
    /// letters and words, and every separator the tokenizer treats apart.
    #[rustfmt::skip]
    const PIECES: &[&str] = &[
        "anna", "Anna", "ANNA", "smith", "Smith", "the", "The", "new", "York", "Rio", "de",
        "Janeiro", "Dr", "dr", "Mr", "J", "R", "s", "S", "a", "I", "x", "london", "Paris",
        "van", "der", "Voet", "Inc", "Street", "Apt", "january", "Will", "abcdefg", "Abcdefgh",
        "ABCDEFGHI", "abcdefghijkl", "Abcdefghijklm", "government", "Christopher",
        "Alexandria", "international", "Massachusetts", "ADMINISTRATION", "Weöres", "Kovács",
        "é", "É", "ΛΑΡΝΑΚΑ", "Αθήνα", "Москва", "İstanbul", "ß", "東京", "ǅ", "x\u{301}", " ",
        " ", " ", "  ", ".", ". ", ",", "'", "'s", "’", "’s", "'S", "-", "--", "\u{a0}", "“",
        "”", "•", "\n", "\t", ":", ";", "!", "?", "(", ")", "\"", "0", "42", "@", "§", "€",
        "\u{2011}", "–", "\0",
    ];

    fn tricky_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            8 => proptest::sample::select(PIECES).prop_map(str::to_string),
            1 => "[a-zA-Z]{250,300}",
            1 => proptest::char::any().prop_map(|c| c.to_string()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The tokenizer agrees with the char-by-char one on any mix of
        /// the tricky pieces, cut anywhere (texts ending mid-word, texts
        /// shorter than one 8-byte load).
        #[test]
        fn tokenizer_matches_the_char_by_char_one_on_any_text(text in tricky_text(), cut in 0usize..64) {
            prop_assert_eq!(tokens(&text), reference_tokenize(gaz(), &text));
            let mut at = text.len().saturating_sub(cut);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let t = &text[..at];
            prop_assert_eq!(tokens(t), reference_tokenize(gaz(), t));
        }
    }

    /// `short_ascii_pair`'s key of two tokens, if it has one, is the key
    /// `find_places` builds with `push_lower`.
    fn check_short_pairs(text: &str) -> usize {
        let toks = tokens(text);
        let mut checked = 0;
        for pair in toks.windows(2) {
            let Some(len) = short_ascii_pair(text.as_bytes(), &pair[0], &pair[1]) else {
                continue;
            };
            let mut built = String::new();
            push_lower(&mut built, &text[pair[0].start..pair[0].end]);
            built.push(' ');
            push_lower(&mut built, &text[pair[1].start..pair[1].end]);
            assert_eq!(len, built.len(), "{text:?} {built:?}");
            let mut padded = [0u8; INLINE];
            padded[..len].copy_from_slice(built.as_bytes());
            assert_eq!(
                short_key(text.as_bytes(), pair[0].start, len),
                Key::from_padded(&padded),
                "{text:?} {built:?}"
            );
            checked += 1;
        }
        checked
    }

    #[test]
    fn short_pair_keys_are_the_built_keys() {
        for (text, pairs) in [
            ("New York", 1),
            ("NEW YORK and new york", 4),
            ("St. Louis, Rio de Janeiro", 2),
            ("O'Neil Town, Ann-Marie X", 2),
            ("new  york", 0),
            ("new\u{a0}york", 0),
            ("new.york new-york", 0),
            ("São Paulo", 0),
            ("San Francisco", 0),
            ("Dr.Smith J. R. Ab", 3),
            ("Le Havre", 1),
        ] {
            assert_eq!(check_short_pairs(text), pairs, "{text:?}");
        }
        // Every cut of a text: the last word meets the end of the text.
        let text = "St. Ab cd EF's Le Havre";
        for (i, _) in text.char_indices() {
            check_short_pairs(&text[..i]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn short_pair_keys_are_the_built_keys_on_any_text(text in tricky_text()) {
            check_short_pairs(&text);
        }
    }

    #[test]
    fn tokens_keep_possessives_titles_and_initials_apart() {
        let text = "Dr. Karen's J. Smith’s";
        let words: Vec<&str> = tokens(text).iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(words, ["Dr.", "Karen", "s", "J.", "Smith", "s"]);
        let t = tokens("Mr.\u{a0}Grimes");
        assert!(t[0].flags & TITLE != 0 && t[1].joined_prev && t[1].cap);
        assert!(tokens("KAREN'S")[0].all_caps);
        let t = tokens("KAREN's");
        assert!(!t[0].all_caps, "the possessive s counts as lower case");
        assert!(tokens("MRNs")[0].all_caps && tokens("IDs")[0].all_caps);
        assert!(!tokens("Ns")[0].all_caps && !tokens("NASa")[0].all_caps);
        let t = tokens("ΛΑΡΝΑΚΑ weöres");
        assert!(t[0].all_caps && t[0].cap && !t[1].cap && t[1].joined_prev);
    }

    #[test]
    fn leading_letter_bits_are_exact_up_to_the_first_non_ascii_byte() {
        // Every byte value at every position, between fillers of letters,
        // ASCII non-letters and non-ASCII bytes (whose carries must not
        // reach back).
        let fillers: [&[u8; 8]; 4] = [
            b"?!0 \xff\x80~@",
            b"AbyZazMN",
            b"\xe1\xfb`{[@/:",
            b"zZ\x7f\x00-'\xc3\xa9",
        ];
        for filler in fillers {
            for b in 0..=255u8 {
                for pos in 0..8 {
                    let mut bytes = *filler;
                    bytes[pos] = b;
                    let bits = leading_letter_bits(u64::from_le_bytes(bytes));
                    for (k, &c) in bytes.iter().enumerate() {
                        assert_eq!(
                            bits >> (8 * k + 7) & 1 == 1,
                            c.is_ascii_alphabetic(),
                            "{bytes:x?} byte {k}"
                        );
                        assert_eq!(bits >> (8 * k) & 0x7f, 0, "{bytes:x?}");
                        if !c.is_ascii() {
                            break;
                        }
                    }
                }
            }
        }
        assert_eq!(
            leading_letter_bits(u64::from_le_bytes(*b"Ab'z-Z@[")),
            0x0000_8000_8000_8080
        );
    }

    #[test]
    fn is_alphabetic_agrees_with_char_for_every_char() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(
                is_alphabetic(c),
                c.is_alphabetic(),
                "{c:?} U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn short_keys_hash_like_slices() {
        let text = b"AbC'd-EFGHIJKLmnop";
        for start in 0..text.len() {
            for len in 1..=INLINE.min(text.len() - start) {
                let want = text[start..start + len].to_ascii_lowercase();
                let mut padded = [0u8; INLINE];
                padded[..len].copy_from_slice(&want);
                let key = short_key(text, start, len);
                assert_eq!(key, Key::from_padded(&padded), "{start} {len}");
                assert_eq!(hash_short(key, len), hash(&want));
            }
        }
        assert_eq!(hash_short(Key { lo: 0, hi: 0 }, 0), hash(b""));
    }

    #[test]
    fn word_table_finds_every_word_and_nothing_else() {
        // Capacity 2: the inserts below make it grow twice.
        let mut t = WordTable::with_capacity(2);
        let words = [
            "a",
            "ab",
            "twelve_bytes",
            "thirteen_byte",
            "villafranca del cid",
            "é",
        ];
        for (i, w) in words.iter().enumerate() {
            t.insert(w.as_bytes(), 1 << i);
        }
        // A second insert ORs its flags in.
        t.insert(b"villafranca del cid", 1 << 8);
        for (i, w) in words.iter().enumerate() {
            let extra = if i == 4 { 1 << 8 } else { 0 };
            assert_eq!(t.get(w.as_bytes()), Some((1 << i) | extra), "{w}");
        }
        for w in [
            "",
            "b",
            "abc",
            "twelve_bytez",
            "thirteen_bytes",
            "villafranca del ci",
        ] {
            assert_eq!(t.get(w.as_bytes()), None, "{w}");
        }
        // The built-in lists: every entry is found with its flags.
        let g = gaz();
        assert!(g.words.get(b"london").is_some_and(|f| f & CITY != 0));
        assert!(g.words.get(b"xqzzyq").is_none());
        // ... in a table compacted to at most half full.
        assert!(g.words.count * 2 <= g.words.slots.len());
        assert!(g.words.count * 4 > g.words.slots.len());
    }

    #[test]
    fn a_compacted_table_holds_the_same_words() {
        let mut t = WordTable::with_capacity(5000);
        let words: Vec<String> = (0..700)
            .map(|i| match i % 3 {
                0 => format!("w{i}"),
                1 => format!("a longer key number {i}"),
                _ => format!("é{i}"),
            })
            .collect();
        for (i, w) in words.iter().enumerate() {
            t.insert(w.as_bytes(), (i % 16) as u16 + 1);
        }
        let before = t.slots.len();
        let t = t.compact();
        assert_eq!(t.slots.len(), 2048, "from {before}");
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.get(w.as_bytes()), Some((i % 16) as u16 + 1), "{w}");
        }
        for w in ["w1000", "a longer key number 701", "é", "w"] {
            assert_eq!(t.get(w.as_bytes()), None, "{w}");
        }
    }

    #[test]
    fn the_frequent_words_sit_in_their_home_slots() {
        let t = &gaz().words;
        let (mut common, mut home) = (0, 0);
        for (i, s) in t.slots.iter().enumerate() {
            if s.len() != 0 && s.flags() & COMMON != 0 {
                common += 1;
                home += usize::from(hash(&t.key_of(s)) as usize & t.mask == i);
            }
        }
        assert!(
            common > 20_000 && home * 100 > common * 90,
            "{home} of {common}"
        );
    }

    #[test]
    fn names_with_titles_pairs_and_cues() {
        assert_eq!(found("Mr. Grimes is 50.", "PERSON", 0.5), ["Mr. Grimes"]);
        assert_eq!(
            found("Elizabeth Floyd will be talking", "PERSON", 0.5),
            ["Elizabeth Floyd"]
        );
        assert_eq!(
            found(
                "It's under my partner's name Donald van der Voet",
                "PERSON",
                0.5
            ),
            ["Donald van der Voet"]
        );
        assert_eq!(found("Don't go to town, Judy!", "PERSON", 0.5), ["Judy"]);
    }

    #[test]
    fn salutations_are_cues_not_names() {
        assert_eq!(
            found("Dear Hannah Becker, thanks.", "PERSON", 0.5),
            ["Hannah Becker"]
        );
        assert_eq!(found("Dear John, thanks.", "PERSON", 0.5), ["John"]);
    }

    #[test]
    fn sentence_openers_are_not_part_of_names() {
        assert_eq!(
            found("Then Brzęczyszczykiewicz arrived.", "PERSON", 0.5),
            ["Brzęczyszczykiewicz"]
        );
        assert_eq!(
            found("Grace Kowalski said so.", "PERSON", 0.5),
            ["Grace Kowalski"]
        );
    }

    #[test]
    fn ordinary_words_are_not_names() {
        assert!(found("Will my account stay active?", "PERSON", 0.5).is_empty());
        assert!(found("Please send the report by Monday.", "PERSON", 0.5).is_empty());
        assert!(found("The API returned 404.", "PERSON", 0.5).is_empty());
    }

    /// Given names whose word sense is rare are names mid-sentence; those
    /// whose word sense is common are not, without a cue.
    #[test]
    fn names_over_rare_word_senses() {
        assert_eq!(
            found("Yesterday John moved to Leeds.", "PERSON", 0.5),
            ["John"]
        );
        assert_eq!(found("In 2003 Maria called.", "PERSON", 0.5), ["Maria"]);
        assert!(found("I will grace the party in May.", "PERSON", 0.5).is_empty());
        assert!(found("a penny saved is a penny earned", "PERSON", 0.5).is_empty());
    }

    /// Greetings, sign-offs, pronouns and the nouns of letters in other
    /// languages are no persons; the names in those letters still are.
    #[test]
    fn letter_words_in_other_languages_are_not_names() {
        for (text, names, words) in [
            (
                "Sehr geehrte Frau Müller, bitte senden Sie die Rechnung an die Adresse unten. \
                 Der Vertrag läuft bis März. Mit freundlichen Grüßen, Hans Schmidt",
                &["Frau Müller", "Hans Schmidt"][..],
                &[
                    "Sehr", "Rechnung", "Adresse", "Vertrag", "März", "Mit", "Grüßen",
                ][..],
            ),
            (
                "Bonjour, la Facture est jointe. Merci pour votre Commande. Cordialement, Marie Dubois",
                &["Marie Dubois"],
                &["Bonjour", "Facture", "Merci", "Commande", "Cordialement"],
            ),
            (
                "Hola, el Pedido llegó ayer. Saludos, Juan García",
                &["Juan García"],
                &["Pedido", "Saludos"],
            ),
        ] {
            let got = found(text, "PERSON", 0.5);
            for n in names {
                assert!(got.iter().any(|g| g == n), "{n} in {got:?}");
            }
            for w in words {
                assert!(!got.iter().any(|g| g.contains(w)), "{w} in {got:?}");
            }
        }
    }

    /// The function words that open sentences in six languages
    /// (`common_words_intl.txt`) are no persons, though some are names in
    /// the lists ("Sie", "Pero", "Elle", "Das"); beside a name they still
    /// make one, and the given names common in English stay names alone.
    #[test]
    fn sentence_openers_in_other_languages_are_not_names() {
        for text in [
            "Können Sie mir helfen? Das ist nicht richtig. Wie geht es Ihnen? \
             Hier ist die Rechnung. Ist das Paket angekommen? Sind Sie sicher?",
            "Il est arrivé hier. Elle travaille ici. Qui est là? Mais non.",
            "El pedido llegó tarde. Muy bien, gracias. Pero no tengo el número. \
             Como le dije, Su pedido está listo. Para más información llame.",
            "Non ho capito. Chi ha chiamato? Mio fratello lavora qui.",
            "Hij is niet thuis. Zij werkt hier. Niet vergeten. Maar ik weet het niet. Ook goed.",
            "Não recebi a fatura. Ele está em casa. Ela trabalha aqui. Muito obrigado.",
        ] {
            let got = found(text, "PERSON", 0.5);
            assert!(got.is_empty(), "{text}: {got:?}");
        }
        let text =
            "Les Paul played. Dan called. Mia Rossi paid. Rahul Das wrote. Elle Fanning starred.";
        assert_eq!(
            found(text, "PERSON", 0.5),
            ["Les Paul", "Dan", "Mia Rossi", "Rahul Das", "Elle Fanning"]
        );
    }

    /// Lower-case text: a title with its dot makes the next name a person
    /// ("mr. martin", though "martin" is a word and a town); a given name
    /// that is a town too is left to the name detector ("tracy").
    #[test]
    fn lower_case_titles_and_names_that_are_towns() {
        for (text, want) in [
            ("mr. martin is a 50 year old man", "mr. martin"),
            ("dr. hurst is a 50 year old man", "dr. hurst"),
            ("mrs. anna kowalska called", "mrs. anna kowalska"),
            ("hello, this is mr. chad farmer.", "mr. chad farmer"),
            (
                "follow up with tracy wiśniewska in 2 months.",
                "tracy wiśniewska",
            ),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), [want], "{text}");
        }
        assert!(found("follow up with tracy wiśniewska", "LOCATION", 0.1).is_empty());
        // The surname lists hold "then" and "suite"; "ms." after a number
        // is milliseconds; a lower-case "judge" is a word.
        for text in [
            "turn left on oak dr. then right",
            "12 elm dr. suite 5",
            "the query took 200 ms. martin said",
            "the judge martin said",
        ] {
            assert!(found(text, "PERSON", 0.5).is_empty(), "{text}");
        }
    }

    /// The titles of letters in other languages open names as "Mr" does,
    /// and a title opens the name after it: what comes before is another
    /// word ("Gentile" is Italian for Dear, and a surname).
    #[test]
    fn titles_open_names_in_any_language() {
        for (text, want) in [
            ("Geachte heer De Vries, bedankt.", vec!["heer De Vries"]),
            ("Szanowny Panie Kowalski, dziękuję.", vec!["Panie Kowalski"]),
            ("Bonjour Madame Lefèvre.", vec!["Madame Lefèvre"]),
            ("Police Officer Ann Lee arrived.", vec!["Officer Ann Lee"]),
            ("Egregio Signor Bianchi, grazie.", vec!["Signor Bianchi"]),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), want, "{text}");
        }
        assert!(
            found("Gentile Sig. Rossi, grazie.", "PERSON", 0.5).contains(&"Sig. Rossi".to_string())
        );
        // A word title's dot ends its sentence; Our Lady names streets.
        let text = "a decision of the University President. On 19 February 1994 it was served.";
        assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        let text = "14 R Nossa Senhora Graça 75";
        assert_eq!(found(text, "PERSON", 0.5), ["Graça"], "{text}");
    }

    /// Chat writing: a given name after "to" is a person, not a town, and
    /// a lower-case abbreviation after a given name is no surname ("my mac
    /// addr": Mac is a given name).
    #[test]
    fn lower_case_chat_names_and_abbreviations() {
        assert_eq!(
            found("i talked to sarah yesterday", "LOCATION", 0.5),
            Vec::<String>::new()
        );
        assert_eq!(
            found("i talked to sarah yesterday", "PERSON", 0.5),
            ["sarah"]
        );
        assert_eq!(found("grew up in lubbeek", "LOCATION", 0.5), ["lubbeek"]);
        // A surname that is a word too, after a first name that is not.
        assert_eq!(
            found("my wife mary smith might have signed", "PERSON", 0.5),
            ["mary smith"]
        );
        assert_eq!(
            found("ask sarah brown about it", "PERSON", 0.5),
            ["sarah brown"]
        );
        assert_eq!(found("mary will call you", "PERSON", 0.5), ["mary"]);
        assert_eq!(found("sarah said hi", "PERSON", 0.5), ["sarah"]);
        // A street word is no surname (the address rules take the street).
        assert!(
            !found("shipped to 12 edmunds street", "PERSON", 0.5)
                .contains(&"edmunds street".to_string())
        );
        assert_eq!(
            found("my mac addr is 3c:22:fb:7a:19:c2, pls check", "PERSON", 0.5),
            Vec::<String>::new()
        );
    }

    /// Words the dictionary lacks only in form are words, not names:
    /// British spellings, inflections and derivations, hyphenated
    /// compounds and medical terms. Names and places do not decompose
    /// so; capitalised words are held to inflections only, as brand and
    /// family names are often made of English parts.
    #[test]
    fn english_words_missing_from_the_lists_are_recognised() {
        let g = gaz();
        for w in [
            "favour",
            "recognised",
            "organisations",
            "bots",
            "exertional",
            "blocker",
            "unlawfulness",
            "pensionable",
            "overbilling",
            "pre-trial",
            "metformin",
            "amlodipine",
            "hyperlipidemia",
            "Labour",
        ] {
            assert!(g.english_like(w), "{w}");
        }
        for w in [
            "lubbeek",
            "jessheim",
            "orrspelsv",
            "kowalczyk",
            "kadyrov",
            "ruše",
            "x",
            "Kowalczyk",
        ] {
            assert!(!g.english_like(w), "{w}");
        }
        for w in ["Meds", "Labour", "Offences", "Vitals"] {
            assert!(g.english_like_capitalised(w), "{w}");
        }
        for w in [
            "Innography",
            "Recipal",
            "Brown-Weaver",
            "Prediger",
            "Stubben",
        ] {
            assert!(!g.english_like_capitalised(w), "{w}");
        }
    }

    /// Clinical and technical prose: a drug, a symptom or a device after
    /// "to"/"of" is no town, and "beta blocker" no person; a town in
    /// lower case after "in" still is one, and a lower-case full name
    /// whose surname is no word still a person.
    #[test]
    fn domain_words_are_no_places_or_names() {
        for text in [
            "switched to metformin last week",
            "a dose of amlodipine at night",
            "history of hyperlipidemia",
            "presenting with 3 days of exertional chest pain",
            "My religion does not allow speaking to bots",
            "a version of kubectl",
            "started a course of ozempic",
        ] {
            assert_eq!(found(text, "LOCATION", 0.3), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found("resume beta blocker", "PERSON", 0.3),
            Vec::<String>::new()
        );
        assert_eq!(found("sent to orrspelsv", "LOCATION", 0.5), ["orrspelsv"]);
        assert_eq!(
            found("dawn kowalczyk called", "PERSON", 0.5),
            ["dawn kowalczyk"]
        );
        assert_eq!(found("He met Kowalczyk", "PERSON", 0.5), ["Kowalczyk"]);
        // Capitalised names of English parts stay names.
        assert_eq!(
            found("He met Brown-Weaver", "PERSON", 0.5),
            ["Brown-Weaver"]
        );
        // A section head is no speaker; a speaker still is.
        assert!(!gaz().list_name("Meds"));
        assert!(gaz().list_name("Natalina"));
    }

    /// A country after a place and a comma is a place, though it is a
    /// given name too ("France", "Jordan"); the same name alone is still
    /// a person's, and a street after a town keeps to the street rules.
    #[test]
    fn country_after_a_place_is_a_place() {
        let text = "registered at 69003 Lyon, France. Jordan met me in Amman, Jordan.";
        assert_eq!(
            found(text, "LOCATION", 0.5),
            ["Lyon", "France", "Amman", "Jordan"]
        );
        assert_eq!(found(text, "PERSON", 0.5), ["Jordan"]);
        assert_eq!(
            found("located in Famagusta, Kennedy Avenue", "LOCATION", 0.5),
            ["Famagusta"]
        );
    }

    /// A country that is a surname only ("Germany", "Austria", "England")
    /// is the country, in parentheses, after a verb or opening a sentence;
    /// a title, an initial or a given name right before it makes it a
    /// person's surname.
    #[test]
    fn a_country_that_is_a_surname_is_the_country() {
        for (text, place) in [
            (
                "He lives in Laupheim (Germany).",
                vec!["Laupheim", "Germany"],
            ),
            ("She entered Austria on a visa.", vec!["Austria"]),
            ("Austria ratified the Protocol.", vec!["Austria"]),
            (
                "a Magistrates' Court in Newcastle (England)",
                vec!["Newcastle", "England"],
            ),
        ] {
            assert_eq!(found(text, "LOCATION", 0.5), place, "{text}");
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        for (text, person) in [
            ("Mr Poland said no.", "Mr Poland"),
            ("Paul England called.", "Paul England"),
            ("J. England called.", "J. England"),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), [person], "{text}");
            assert_eq!(found(text, "LOCATION", 0.5), Vec::<String>::new(), "{text}");
        }
    }

    /// An ordinary word that is a surname too, then a short number, is a
    /// reference ("Rule 44"), even after a cue ("and"); with a title it is
    /// a person, and a longer number after a name (a phone) changes
    /// nothing.
    #[test]
    fn a_word_and_a_number_is_a_reference() {
        for text in [
            "Article 36 of the Convention and Rule 44 § 1 (b)",
            "under Article 6 and Rule 39.",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(found("Mr Rule 44 said", "PERSON", 0.5), ["Mr Rule"]);
        assert_eq!(found("ask Smith 3.5 times", "PERSON", 0.5), ["Smith"]);
        assert_eq!(found("and Rule asked", "PERSON", 0.5), ["Rule"]);
        assert!(number_follows(b"Rule 44 ", 4));
        assert!(number_follows(b"Rule 1", 4));
        assert!(!number_follows(b"Baker 555 1234", 5));
        assert!(!number_follows(b"Baker 555-1234", 5));
        assert!(!number_follows(b"Baker 5551", 5));
        assert!(!number_follows(b"Baker  44", 5));
    }

    /// Names that their cue gives away though they are ordinary words or
    /// in lower case: the name given ("named him Mark"), a film's cast
    /// ("starring Morrow"), a surname after a titled given name ("mr. chad
    /// farmer") or after a speech verb ("says jonsson"), a given name
    /// opening a sentence before a word no list knows ("Mark Muslija").
    /// The same words without the cue stay words.
    #[test]
    fn names_given_away_by_their_cue() {
        for (text, person) in [
            ("She named him Mark.", "Mark"),
            ("she named him randy", "randy"),
            ("they named her Grace", "Grace"),
            ("a film starring Morrow", "Morrow"),
            (
                "hello, this is mr. chad farmer. who are you?",
                "mr. chad farmer",
            ),
            ("dr. john smith is here", "dr. john smith"),
            ("mr. john will call", "mr. john"),
            ("\"this is great,\" says jonsson.", "jonsson"),
            ("my name is jonsson", "jonsson"),
            ("Mark Muslija", "Mark Muslija"),
            ("Dawn Njivar lives here.", "Dawn Njivar"),
            ("Then Kowalczyk left.", "Kowalczyk"),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), [person], "{text}");
        }
        for text in [
            "I will call her tomorrow",
            "call her Mum",
            "they called him lazy",
            "he said nothing",
            "it says jonsson2 on the tag",
            "Will Google win?",
            "featuring Apple Music",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
    }

    /// A nationality or an ethnic group ("a Cypriot national", "the
    /// Kurdish question") and the label of a phone number ("Tél :",
    /// "Mobil:") are no persons: as unknown capitalised words they were,
    /// and the rewrite made "a Nikolic national".
    #[test]
    fn nationalities_and_phone_labels_are_no_persons() {
        for text in [
            "by a Cypriot national, who lives in the north",
            "he made a speech on the Kurdish question",
            "the Greek-Cypriot community and the Kurds",
            "Tél : 01 42 68 53 00",
            "Mobil: 0171 1234567",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found("by a Cypriot national, Mrs Anna Evagorou", "PERSON", 0.5),
            ["Mrs Anna Evagorou"]
        );
    }

    /// A given name that is a frequent word of another language ("les",
    /// "dan", "leider") is that word in lower case before a word no list
    /// knows, and opening a sentence before a lower-case word that is no
    /// English word; before a listed surname, or an English word, it is
    /// still a name.
    #[test]
    fn foreign_words_that_are_given_names() {
        for text in [
            "nous avons reçu les factures hier",
            "Les chiffres du trimestre montrent une baisse.",
            "Ben voyons, ce n'est pas grave.",
            "ist leider nicht angekommen",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        for (text, person) in [
            ("talked to ben smith today", "ben smith"),
            ("ask dan kowalczyk", "dan kowalczyk"),
            ("Les said he would come.", "Les"),
            ("Dan called me.", "Dan"),
            ("Les Paul played.", "Les Paul"),
        ] {
            assert_eq!(found(text, "PERSON", 0.5), [person], "{text}");
        }
    }

    /// A job title is no person, though its first word is a surname too
    /// ("Senior", "Lead"); a person of that name still is one.
    #[test]
    fn job_titles_are_no_persons() {
        for text in [
            "Promoted to Senior Engineer in 2023.",
            "Please ask our Lead Developer.",
            "She joined as Regional Sales Manager last May.",
        ] {
            assert_eq!(found(text, "PERSON", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found("Manager: Anne Dubois, Engineer", "PERSON", 0.5),
            ["Anne Dubois"]
        );
        assert_eq!(found("Ask Tom Baker today.", "PERSON", 0.5), ["Tom Baker"]);
    }

    /// A month that is also a town (March) is a month, unless its region
    /// follows it or a postcode comes before it.
    #[test]
    fn a_month_named_town_needs_its_region() {
        for text in [
            "You could ask Bob again closer to March.",
            "We postponed it to March and then to April.",
        ] {
            assert_eq!(found(text, "LOCATION", 0.5), Vec::<String>::new(), "{text}");
        }
        assert_eq!(
            found(
                "She moved to March, Cambridgeshire in 2019.",
                "LOCATION",
                0.5
            ),
            ["March"]
        );
        assert_eq!(
            found("She moved to Leeds in 2019.", "LOCATION", 0.5),
            ["Leeds"]
        );
    }

    /// Software and service names (`not_names.txt`) are no persons or
    /// places; a person sharing a name with a tool (Jenkins) still is one.
    #[test]
    fn software_names_are_not_names() {
        let text = "We migrated the JavaScript client to TypeScript and moved the repo from \
                    GitHub to GitLab; PostgreSQL and MongoDB backups run via Kubernetes CronJobs.";
        let mut v = Vec::new();
        gaz().find(text, &mut v);
        let got: Vec<&str> = v
            .iter()
            .filter(|s| s.score >= 0.5)
            .map(|s| &text[s.start..s.end])
            .collect();
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(
            found("Ask Jenkins about the build.", "PERSON", 0.5),
            ["Jenkins"]
        );
        // The words of logs and configs: "[POST] Traceback:" was a person.
        for text in [
            "Exception on /checkout [POST] Traceback: File views.py",
            "Then Backend said the Healthcheck failed on Localhost.",
            "See Readme and Changelog; the Dockerfile and Makefile changed.",
        ] {
            assert!(found(text, "PERSON", 0.5).is_empty(), "{text}");
        }
    }

    /// A site's gazetteer directory made before `common_words_intl.txt`
    /// and `first_name_genders.txt` existed loads, with the embedded
    /// lists; its own copies replace them.
    #[test]
    fn gazetteer_dir_may_leave_out_the_other_languages_list() {
        let dir = tempfile::tempdir().unwrap();
        let b = BUILTIN;
        for (name, text) in [
            ("first_names.txt", b.first_names),
            ("surnames.txt", b.surnames),
            ("cities.txt", b.cities),
            ("countries.txt", b.countries),
            ("common_words.txt", b.common_words),
            ("dictionary.txt", b.dictionary),
            ("not_names.txt", b.not_names),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let text = "Pero no tengo el número.";
        let persons = |g: &Gazetteers| {
            let mut v = Vec::new();
            g.find(text, &mut v);
            v.iter()
                .filter(|s| &*s.entity == "PERSON" && s.score >= 0.5)
                .count()
        };
        assert_eq!(persons(&Gazetteers::from_dir(dir.path()).unwrap()), 0);
        std::fs::write(dir.path().join(INTL_FILE), "# none\n").unwrap();
        assert_eq!(persons(&Gazetteers::from_dir(dir.path()).unwrap()), 1);
        // So may it leave out the given names' genders: the embedded ones
        // are used, and its own replace them (a line of no gender, "x",
        // names none).
        let g = Gazetteers::from_dir(dir.path()).unwrap();
        assert!(g.female_names.iter().any(|n| n == "Sarah"));
        assert!(g.male_names.iter().any(|n| n == "Mike"));
        assert!(
            !g.female_names
                .iter()
                .chain(&g.male_names)
                .any(|n| n == "Jordan")
        );
        std::fs::write(
            dir.path().join(GENDERS_FILE),
            "# own\nZed\tm\nAnn\tf\nBob\tx\n",
        )
        .unwrap();
        let g = Gazetteers::from_dir(dir.path()).unwrap();
        assert_eq!(
            (g.female_names, g.male_names),
            (vec!["Ann".to_string()], vec!["Zed".to_string()])
        );
    }

    /// Camel-case words of ordinary words are code and product names, not
    /// persons, with or without a cue; names written in camel case, or
    /// with a part that is a name or unknown, stay names.
    #[test]
    fn camel_case_words_of_ordinary_words_are_not_names() {
        let log = "12:00:01 ERROR [UserService] NullPointerException in \
                   OrderController.handle() from PaymentGateway; see the AccountManager";
        assert!(
            found(log, "PERSON", 0.5).is_empty(),
            "{:?}",
            found(log, "PERSON", 0.5)
        );
        for name in ["DeRose", "McKenzie", "LaToya", "JoAnn", "DeShawn"] {
            let text = format!("Yesterday {name} called.");
            assert_eq!(found(&text, "PERSON", 0.5), [name], "{text}");
        }
    }

    #[test]
    fn places_by_case_and_cue() {
        assert_eq!(found("She moved here from Cuba", "LOCATION", 0.5), ["Cuba"]);
        assert_eq!(found("arrived from bahrain.", "LOCATION", 0.5), ["bahrain"]);
        assert_eq!(
            found("We met in New York last year", "LOCATION", 0.5),
            ["New York"]
        );
        assert!(found("That was a nice day", "LOCATION", 0.5).is_empty());
        // Three-word places: the search goes on past "Rio de".
        assert_eq!(
            found("She moved to Rio de Janeiro in May", "LOCATION", 0.5),
            ["Rio de Janeiro"]
        );
        assert_eq!(
            found("We drove to Salt Lake City today", "LOCATION", 0.5),
            ["Salt Lake City"]
        );
    }
}
