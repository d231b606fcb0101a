//! Whitespace removal at memory-scan speed: the Python original's file
//! (`json.dump(..., indent=4)`, about twice the bytes of the same assets in
//! our layout) fed in chunks, turned into the same JSON without the
//! whitespace between tokens, so that its assets can be kept compact in one
//! buffer (as the assets of a file in our layout are), read through a small
//! chunk buffer so that the indented file is never held whole (peak memory
//! stays near the compact size: issue 11, item 6).
//!
//! 64 bytes at a time, simdjson's way: bit masks of quotes, backslashes,
//! whitespace and token bytes; quotes escaped by an odd run of backslashes
//! dropped; the inside of strings found by a prefix XOR of the remaining
//! quotes; the whitespace outside strings left out. Three tiers, chosen at
//! run time (the library is built for any x86_64): AVX-512 (BW + VBMI2: one
//! compare per mask, `vpcompressb` gathers the kept bytes), SSSE3 (SSE2
//! compares, kept bytes gathered 8 at a time by `pshufb` from a table), and
//! a portable one (SSE2 or plain loops, kept runs copied). On the 220 MB
//! file of 100k assets the compaction itself is a small part of an open:
//! see BENCHMARKS.md (issue 11).
//!
//! Removing whitespace must not make invalid JSON valid: `[1 2]` would become
//! `[12]`, `nu ll` would become `null`. So whitespace that separates two
//! token bytes (letters, digits, `-`, `+`, `.`, anything else that is not
//! structure, a quote or whitespace) is reported ([`Compacted::merged`]) and
//! the caller reads the original bytes instead, which gives the parser's
//! own error. (The fuzz target `format` checks that the compact form is read
//! exactly as the original is, valid or not.)

/// The bytes per step.
const BLOCK: usize = 64;

/// A whitespace remover fed the original bytes in chunks of any size.
pub struct Compactor {
    out: Vec<u8>,
    /// Bytes of the original not yet a whole block.
    carry: [u8; BLOCK],
    carry_len: usize,
    /// Original bytes consumed in whole blocks.
    offset: u64,
    /// All ones while inside a string at the end of the last block.
    in_string: u64,
    /// 1 when the last block ended in an odd run of backslashes.
    odd_backslash: u64,
    /// 1 when the last block's last byte was a token byte outside strings.
    prev_token: u64,
    /// A whitespace run that follows a token byte reaches the block's end.
    pending_gap: bool,
    merged: bool,
    /// The kept bytes' masks of the last blocks that kept any, with their
    /// offsets in the original: maps the last compact bytes back.
    ring: Box<[(u64, u64); RING]>,
    ring_len: usize,
    /// The original's last bytes.
    last: [u8; BLOCK],
    total: u64,
    ssse3: bool,
    avx512: bool,
}

const RING: usize = 64;

/// What a [`Compactor`] made of its input.
pub struct Compacted {
    /// The input without the whitespace outside strings.
    pub bytes: Vec<u8>,
    /// Whitespace separated two token bytes somewhere (`1 2`): the compact
    /// form would read differently from the original, which is not valid
    /// JSON there; read the original for the parser's error.
    pub merged: bool,
    ring: Box<[(u64, u64); RING]>,
    ring_len: usize,
    /// The original's last bytes (up to 64), and its length.
    pub last: Vec<u8>,
    pub total: u64,
}

impl Compactor {
    /// A compactor whose output holds `estimate` bytes before it grows (an
    /// estimate of the compact size; memory is only touched as written).
    /// `None` when that much cannot be reserved.
    pub fn new(estimate: usize) -> Option<Compactor> {
        Some(Compactor {
            out: crate::memory::try_vec_with_capacity(estimate.checked_add(4 * BLOCK)?)?,
            carry: [b' '; BLOCK],
            carry_len: 0,
            offset: 0,
            in_string: 0,
            odd_backslash: 0,
            prev_token: 0,
            pending_gap: false,
            merged: false,
            ring: Box::new([(0, 0); RING]),
            ring_len: 0,
            last: [0; BLOCK],
            total: 0,
            ssse3: has_ssse3(),
            avx512: has_avx512(),
        })
    }

    /// [`Compactor::new`] held to `tier` (or below, when the CPU lacks it):
    /// for the tests and the benchmark's comparison of the tiers.
    #[doc(hidden)]
    pub fn with_tier(estimate: usize, tier: Tier) -> Option<Compactor> {
        let mut c = Compactor::new(estimate)?;
        c.avx512 &= tier == Tier::Avx512;
        c.ssse3 &= tier != Tier::Portable;
        Some(c)
    }

    /// Feeds the next bytes of the original. `None` when the output cannot
    /// grow (out of memory).
    pub fn feed(&mut self, mut chunk: &[u8]) -> Option<()> {
        self.remember_last(chunk);
        if self.carry_len > 0 {
            let take = (BLOCK - self.carry_len).min(chunk.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&chunk[..take]);
            self.carry_len += take;
            chunk = &chunk[take..];
            if self.carry_len < BLOCK {
                return Some(());
            }
            let block = self.carry;
            self.block(&block, !0)?;
            self.carry_len = 0;
        }
        let whole = chunk.len() / BLOCK * BLOCK;
        self.reserve(whole)?;
        #[cfg(all(target_arch = "x86_64", compact_avx512))]
        if self.avx512 {
            // SAFETY: the CPU has the features (checked in `new`); room for
            // every block's output was reserved just above.
            unsafe { self.blocks_avx512(&chunk[..whole]) };
        } else {
            for b in chunk[..whole].chunks_exact(BLOCK) {
                self.block(b.try_into().ok()?, !0)?;
            }
        }
        #[cfg(not(all(target_arch = "x86_64", compact_avx512)))]
        for b in chunk[..whole].chunks_exact(BLOCK) {
            self.block(b.try_into().ok()?, !0)?;
        }
        let rest = &chunk[whole..];
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
        Some(())
    }

    fn remember_last(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if chunk.len() >= BLOCK {
            self.last.copy_from_slice(&chunk[chunk.len() - BLOCK..]);
        } else {
            self.last.copy_within(chunk.len().., 0);
            self.last[BLOCK - chunk.len()..].copy_from_slice(chunk);
        }
    }

    /// The compact bytes. `None` when the output cannot grow.
    pub fn finish(mut self) -> Option<Compacted> {
        if self.carry_len > 0 {
            let mut block = [b' '; BLOCK];
            block[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
            let valid = (1u64 << self.carry_len) - 1;
            self.block(&block, valid)?;
        }
        let keep = self.total.min(BLOCK as u64) as usize;
        Some(Compacted {
            bytes: self.out,
            merged: self.merged,
            ring: self.ring,
            ring_len: self.ring_len,
            last: self.last[BLOCK - keep..].to_vec(),
            total: self.total,
        })
    }

    /// One block; `valid`: which of its bytes are input (the last block is
    /// padded with spaces).
    fn block(&mut self, block: &[u8; BLOCK], valid: u64) -> Option<()> {
        let m = classify(block);
        let kept = self.kept(&m, valid);
        self.emit(block, kept)?;
        if kept != 0 {
            self.ring[self.ring_len % RING] = (self.offset, kept);
            self.ring_len += 1;
        }
        self.offset += BLOCK as u64;
        Some(())
    }

    /// Room for `n` more input bytes' output (and the fixed-size stores'
    /// overshoot).
    fn reserve(&mut self, n: usize) -> Option<()> {
        let need = n + 2 * BLOCK;
        if self.out.capacity() - self.out.len() < need {
            let grow = need.max(self.out.capacity()).max(1 << 20);
            self.out.try_reserve(grow).ok()?;
        }
        Some(())
    }

    /// Whole blocks with AVX-512: a compare gives each mask directly, and
    /// `vpcompressb` gathers the kept bytes (VBMI2).
    ///
    /// # Safety
    /// The CPU must have AVX512F, AVX512BW and AVX512VBMI2; `reserve` must
    /// have made room for `chunk`'s output.
    #[cfg(all(target_arch = "x86_64", compact_avx512))]
    // Compiled only by a compiler that has these (see build.rs).
    #[allow(clippy::incompatible_msrv)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
    unsafe fn blocks_avx512(&mut self, chunk: &[u8]) {
        use std::arch::x86_64::*;
        let set = |b: u8| _mm512_set1_epi8(b as i8);
        for b in chunk.chunks_exact(BLOCK) {
            let v = _mm512_loadu_si512(b.as_ptr().cast());
            let eq = |x: u8| _mm512_cmpeq_epi8_mask(v, set(x));
            let folded = _mm512_or_si512(v, set(0x20));
            let m = Masks {
                space: eq(b' ') | eq(b'\n') | eq(b'\r') | eq(b'\t'),
                quote: eq(b'"'),
                backslash: eq(b'\\'),
                structure: _mm512_cmpeq_epi8_mask(folded, set(b'{'))
                    | _mm512_cmpeq_epi8_mask(folded, set(b'}'))
                    | eq(b',')
                    | eq(b':'),
            };
            let kept = self.kept(&m, !0);
            let len = self.out.len();
            let dst = self.out.as_mut_ptr().add(len);
            let n = if kept == !0 {
                _mm512_storeu_si512(dst.cast(), v);
                BLOCK
            } else {
                _mm512_storeu_si512(dst.cast(), _mm512_maskz_compress_epi8(kept, v));
                kept.count_ones() as usize
            };
            self.out.set_len(len + n);
            if kept != 0 {
                self.ring[self.ring_len % RING] = (self.offset, kept);
                self.ring_len += 1;
            }
            self.offset += BLOCK as u64;
        }
    }

    /// The masks' bytes to keep, carrying the string, escape and gap state
    /// over to the next block.
    #[inline(always)]
    fn kept(&mut self, m: &Masks, valid: u64) -> u64 {
        let escaped = self.escaped(m.backslash);
        let quotes = m.quote & !escaped;
        let inside = prefix_xor(quotes) ^ self.in_string;
        self.in_string = ((inside as i64) >> 63) as u64;
        let gaps = m.space & !inside;
        let token = !(m.space | m.quote | m.structure) & !inside & valid;
        self.check_gaps(gaps, token);
        !gaps & valid
    }

    /// The bytes escaped by a backslash: those right after an odd-length run
    /// of backslashes (simdjson's `find_escaped_branchless`). The carry,
    /// `odd_backslash`, is 1 when the next block's first byte is escaped.
    fn escaped(&mut self, backslash: u64) -> u64 {
        const EVEN: u64 = 0x5555_5555_5555_5555;
        if backslash == 0 && self.odd_backslash == 0 {
            return 0;
        }
        // An escaped first byte is not the start of a run, even if a backslash.
        let backslash = backslash & !self.odd_backslash;
        let follows_escape = (backslash << 1) | self.odd_backslash;
        let odd_starts = backslash & !EVEN & !follows_escape;
        let (even_started, overflow) = odd_starts.overflowing_add(backslash);
        self.odd_backslash = u64::from(overflow);
        let invert = even_started << 1;
        (EVEN ^ invert) & follows_escape
    }

    /// Whitespace outside strings that separates two token bytes.
    fn check_gaps(&mut self, gaps: u64, token: u64) {
        let after_token = (token << 1) | self.prev_token;
        let mut starts = after_token & gaps;
        let mut ends_extra = 0;
        if self.pending_gap {
            if gaps & 1 != 0 {
                starts |= 1;
            } else {
                ends_extra = 1;
            }
        }
        let (sum, carry) = gaps.overflowing_add(starts);
        let ends = (sum & !gaps) | ends_extra;
        if ends & token != 0 {
            self.merged = true;
        }
        self.pending_gap = carry;
        self.prev_token = token >> 63;
    }

    /// Appends the bytes of `block` whose bit is set in `kept`.
    fn emit(&mut self, block: &[u8; BLOCK], kept: u64) -> Option<()> {
        if self.out.capacity() - self.out.len() < 2 * BLOCK {
            let grow = self.out.capacity().max(1 << 20);
            self.out.try_reserve(grow).ok()?;
        }
        let len = self.out.len();
        // SAFETY: at least 2 * BLOCK bytes of capacity lie past `len` (just
        // checked); every copy below writes BLOCK bytes at `len`, and only
        // the first `n` of them, all written, are added to the length.
        unsafe {
            let dst = self.out.as_mut_ptr().add(len);
            let n = if kept == !0 {
                std::ptr::copy_nonoverlapping(block.as_ptr(), dst, BLOCK);
                BLOCK
            } else if self.ssse3 {
                // `new` found SSSE3; it writes at most BLOCK + 8 bytes.
                compress_ssse3(block, kept, dst)
            } else {
                // Runs copied BLOCK bytes at a time (fixed-size moves) into a
                // staging buffer, each over the tail of the one before.
                let mut src = [b' '; 2 * BLOCK];
                src[..BLOCK].copy_from_slice(block);
                let mut staged = [0u8; 2 * BLOCK];
                let mut o = 0usize;
                let mut k = kept;
                while k != 0 {
                    let start = k.trailing_zeros() as usize;
                    let run = (!(k >> start)).trailing_zeros() as usize;
                    staged[o..o + BLOCK].copy_from_slice(&src[start..start + BLOCK]);
                    o += run;
                    k = if start + run >= BLOCK {
                        0
                    } else {
                        k & (!0u64 << (start + run))
                    };
                }
                std::ptr::copy_nonoverlapping(staged.as_ptr(), dst, BLOCK);
                o
            };
            self.out.set_len(len + n);
        }
        Some(())
    }
}

impl Compacted {
    /// The offset in the original of the compact byte `back` places before
    /// the end (0: the last byte). `None` when it is not among the last
    /// blocks' bytes that were kept.
    pub fn original_offset(&self, back: usize) -> Option<u64> {
        let mut back = back;
        let mut i = self.ring_len;
        let oldest = self.ring_len.saturating_sub(RING);
        while i > oldest {
            i -= 1;
            let (offset, mut kept) = self.ring[i % RING];
            let n = kept.count_ones() as usize;
            if back < n {
                // The (back+1)-th highest set bit.
                for _ in 0..back {
                    kept &= !(1u64 << (63 - kept.leading_zeros()));
                }
                return Some(offset + u64::from(63 - kept.leading_zeros()));
            }
            back -= n;
        }
        None
    }
}

/// Prefix XOR: bit i is the XOR of bits 0..=i (inside a string from its
/// opening quote up to, not including, its closing one).
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

struct Masks {
    space: u64,
    quote: u64,
    backslash: u64,
    /// `{ } [ ] , :`
    structure: u64,
}

#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks {
        space: 0,
        quote: 0,
        backslash: 0,
        structure: 0,
    };
    // SAFETY: SSE2 is part of x86_64; each load reads 16 bytes inside `block`.
    unsafe {
        let set = |b: u8| _mm_set1_epi8(b as i8);
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast());
            let eq = |b: u8| _mm_cmpeq_epi8(v, set(b));
            let space = _mm_or_si128(
                _mm_or_si128(eq(b' '), eq(b'\n')),
                _mm_or_si128(eq(b'\r'), eq(b'\t')),
            );
            // `{`/`[` and `}`/`]` differ from each other by 0x20 alone.
            let folded = _mm_or_si128(v, set(0x20));
            let structure = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(folded, set(b'{')),
                    _mm_cmpeq_epi8(folded, set(b'}')),
                ),
                _mm_or_si128(eq(b','), eq(b':')),
            );
            let bits = |x: __m128i| (_mm_movemask_epi8(x) as u16 as u64) << (16 * i);
            m.space |= bits(space);
            m.quote |= bits(eq(b'"'));
            m.backslash |= bits(eq(b'\\'));
            m.structure |= bits(structure);
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        space: 0,
        quote: 0,
        backslash: 0,
        structure: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => m.space |= bit,
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'}' | b'[' | b']' | b',' | b':' => m.structure |= bit,
            _ => {}
        }
    }
    m
}

/// Compacts `bytes` fed in chunks of `chunk` bytes (tests, fuzzing).
pub fn compact(bytes: &[u8], chunk: usize) -> Compacted {
    compact_with(Compactor::new(bytes.len()), bytes, chunk)
}

/// [`compact`] held to `tier` (tests, the benchmark).
#[doc(hidden)]
pub fn compact_tier(bytes: &[u8], chunk: usize, tier: Tier) -> Compacted {
    compact_with(Compactor::with_tier(bytes.len(), tier), bytes, chunk)
}

/// The compactor's tiers, widest first.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Avx512,
    Ssse3,
    Portable,
}

/// The tiers this CPU (and this build: see build.rs) can run.
#[doc(hidden)]
pub fn tiers() -> Vec<Tier> {
    let mut t = Vec::new();
    if has_avx512() {
        t.push(Tier::Avx512);
    }
    if has_ssse3() {
        t.push(Tier::Ssse3);
    }
    t.push(Tier::Portable);
    t
}

fn compact_with(c: Option<Compactor>, bytes: &[u8], chunk: usize) -> Compacted {
    let mut c = c.expect("memory for a test input");
    for part in bytes.chunks(chunk.max(1)) {
        c.feed(part).expect("memory");
    }
    c.finish().expect("memory")
}

fn has_ssse3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// For each byte mask, the positions of its set bits (then 0x80: a zero).
const fn shuffle_table() -> [[u8; 8]; 256] {
    let mut t = [[0x80u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut i) = (0, 0);
        while i < 8 {
            if m & (1 << i) != 0 {
                t[m][k] = i as u8;
                k += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

static SHUFFLE: [[u8; 8]; 256] = shuffle_table();

const fn popcount_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut m = 0;
    while m < 256 {
        t[m] = (m as u8).count_ones() as u8;
        m += 1;
    }
    t
}

static POPCOUNT: [u8; 256] = popcount_table();

/// The kept bytes of `block` written at `dst` 8 at a time, each 8 gathered
/// by one byte shuffle (SSSE3 `pshufb`) from a table; returns how many.
///
/// # Safety
/// SSSE3 must be available; `dst` must have room for 64 + 8 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
unsafe fn compress_ssse3(block: &[u8; BLOCK], kept: u64, dst: *mut u8) -> usize {
    use std::arch::x86_64::*;
    let mut o = 0usize;
    for i in 0..8 {
        let m = ((kept >> (8 * i)) & 0xff) as usize;
        let v = _mm_loadl_epi64(block.as_ptr().add(8 * i).cast());
        let s = _mm_loadl_epi64(SHUFFLE[m].as_ptr().cast());
        _mm_storel_epi64(dst.add(o).cast(), _mm_shuffle_epi8(v, s));
        o += POPCOUNT[m] as usize;
    }
    o
}

fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", compact_avx512))]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi2")
    }
    #[cfg(not(all(target_arch = "x86_64", compact_avx512)))]
    {
        false
    }
}

/// Never called: `ssse3` is only set on x86_64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn compress_ssse3(_: &[u8; BLOCK], _: u64, _: *mut u8) -> usize {
    unreachable!("SSSE3 is x86_64 only")
}
