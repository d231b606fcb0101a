//! Large pages for the large buffers.
//!
//! A `get` on a cache of 100k assets touches three places chosen at random
//! in about 110 MB: an index slot, an entry and the asset's text. With 4 KiB
//! pages each of those also misses the TLB, and in a virtual machine a TLB
//! miss is a two-level page walk that can cost as much as the cache miss
//! itself. Asking for transparent huge pages (2 MiB) on the file buffer, the
//! entry list and the index makes the whole working set fit in the TLB.
//!
//! Only advice: where THP is disabled or unavailable nothing changes, and it
//! is given only for buffers of several huge pages, so small caches keep
//! their exact memory use.

const HUGE_PAGE: usize = 2 << 20;

/// Advises huge pages for the whole 2 MiB-aligned pages inside `bytes` of
/// memory at `ptr`, an allocation of ours not yet written to (pages already
/// touched keep their size).
pub fn advise_huge_pages(ptr: *const u8, bytes: usize) {
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside an allocation of ours; MADV_HUGEPAGE
        // changes how the kernel backs it, never its contents. Failure (no
        // THP support) is harmless and ignored.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

/// An empty vector with room for `cap` values, advised huge pages when
/// large: a large allocation comes straight from `mmap`, untouched, so the
/// advice holds for every page it will fill.
pub fn vec_with_capacity<T>(cap: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(cap);
    advise_huge_pages(v.as_ptr().cast(), v.capacity() * std::mem::size_of::<T>());
    v
}

/// [`vec_with_capacity`], or `None` when the memory cannot be had (instead
/// of aborting the process, as `Vec::with_capacity` does).
pub fn try_vec_with_capacity<T>(cap: usize) -> Option<Vec<T>> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(cap).ok()?;
    advise_huge_pages(v.as_ptr().cast(), v.capacity() * std::mem::size_of::<T>());
    Some(v)
}
