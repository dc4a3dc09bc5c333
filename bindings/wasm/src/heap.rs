//! The browser bundle's memory allocator: power-of-two size classes with a free list each,
//! carved from memory the module grows on demand.
//!
//! `std`'s default allocator for wasm32 (dlmalloc) is a general-purpose allocator of several
//! kilobytes; the host's allocations are few and short-lived strings and vectors of a page that
//! lives minutes to hours, single-threaded. Here a request of `n` bytes takes a block of the
//! next power of two (at least 8); freed blocks go on their class's list and are reused as they
//! are (no splitting or merging). A block of class `2^k` is aligned to `min(2^k, 4096)`, which
//! satisfies any alignment a layout of that class can ask for. Memory is never returned to the
//! browser (WebAssembly memory cannot shrink). The logic is generic over where memory comes
//! from, so it is unit-tested natively on a buffer; in the browser it grows the module's memory.

use core::alloc::Layout;

/// Size classes: 8 B (2^3) to 2 GiB (2^31).
const CLASSES: usize = 29;
const MIN_SHIFT: u32 = 3;

/// The allocator state. `grow(bytes)` returns the address and length of at least `bytes` new
/// bytes (contiguous with the previous region when the memory allows), or `None`.
pub struct Heap {
    free: [usize; CLASSES],
    next: usize,
    end: usize,
}

fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    let class = size.checked_next_power_of_two()?.trailing_zeros() - MIN_SHIFT;
    ((class as usize) < CLASSES).then_some(class as usize)
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

impl Heap {
    pub const fn new() -> Heap {
        Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }
    }

    /// # Safety
    /// Single-threaded use only; `grow` must hand out memory nobody else uses.
    pub unsafe fn alloc(
        &mut self,
        layout: Layout,
        grow: impl FnOnce(usize) -> Option<(usize, usize)>,
    ) -> *mut u8 {
        let Some(class) = class(layout) else {
            return core::ptr::null_mut();
        };
        let head = self.free[class];
        if head != 0 {
            // SAFETY: `head` is a freed block of this class; its first word links the next one.
            self.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (class as u32 + MIN_SHIFT);
        let align = size.min(4096);
        let mut start = (self.next + align - 1) & !(align - 1);
        if self.next == 0 || start + size > self.end {
            let want = size + align;
            let Some((base, got)) = grow(want) else {
                return core::ptr::null_mut();
            };
            if base != self.end {
                self.next = base; // the first region (or a discontinuity): start over there
            }
            self.end = base + got;
            start = (self.next + align - 1) & !(align - 1);
        }
        self.next = start + size;
        start as *mut u8
    }

    /// # Safety
    /// `ptr` must come from [`Heap::alloc`] with the same `layout`.
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        if let Some(class) = class(layout) {
            // SAFETY: the block is at least a word long and word-aligned, and now unused.
            unsafe { *(ptr as *mut usize) = self.free[class] };
            self.free[class] = ptr as usize;
        }
    }

    /// Whether a block for `old` can also hold `new` (same class).
    pub fn fits(old: Layout, new: Layout) -> bool {
        class(old).is_some() && class(old) == class(new)
    }
}

#[cfg(target_arch = "wasm32")]
mod global {
    use super::Heap;
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct Global(UnsafeCell<Heap>);

    // SAFETY: the browser build is single-threaded (no `atomics` target feature).
    unsafe impl Sync for Global {}

    const PAGE: usize = 65536;

    fn grow(bytes: usize) -> Option<(usize, usize)> {
        // At least 1 MiB at a time: growing memory detaches the JS views of it, which the glue
        // then rebuilds, so it should be rare.
        let pages = bytes.div_ceil(PAGE).max(16);
        let old = core::arch::wasm32::memory_grow(0, pages);
        (old != usize::MAX).then_some((old * PAGE, pages * PAGE))
    }

    unsafe impl GlobalAlloc for Global {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded; `grow` extends the module's own memory.
            unsafe { (*self.0.get()).alloc(layout, grow) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { (*self.0.get()).dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller guarantees `layout` describes `ptr`; `new_size` keeps the align.
            let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            if Heap::fits(layout, new) {
                return ptr;
            }
            unsafe {
                let fresh = self.alloc(new);
                if !fresh.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                fresh
            }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Global = Global(UnsafeCell::new(Heap::new()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A region of `u64`s the test heap grows into.
    struct Arena {
        mem: Vec<u64>,
        used: usize,
    }

    impl Arena {
        fn grow(&mut self, bytes: usize) -> Option<(usize, usize)> {
            let base = self.mem.as_ptr() as usize + self.used;
            if self.used + bytes > self.mem.len() * 8 {
                return None;
            }
            self.used += bytes;
            Some((base, bytes))
        }
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_reused_per_class() {
        let mut arena = Arena {
            mem: vec![0; 1 << 22],
            used: 0,
        };
        let mut heap = Heap::new();
        let mut live: Vec<(usize, Layout)> = Vec::new();
        let mut x = 0x1234_5678_9abc_def0u64;
        for round in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 && !live.is_empty() {
                let (p, l) = live.swap_remove((x as usize / 3) % live.len());
                unsafe { heap.dealloc(p as *mut u8, l) };
                continue;
            }
            let size = 1 + (x as usize >> 8) % if round % 50 == 0 { 20_000 } else { 300 };
            let align = 1 << ((x >> 40) % 5);
            let layout = Layout::from_size_align(size, align).unwrap();
            let p = unsafe { heap.alloc(layout, |b| arena.grow(b)) } as usize;
            assert!(p != 0 && p % align == 0, "{size}/{align} at {p:#x}");
            unsafe { core::ptr::write_bytes(p as *mut u8, round as u8, size) };
            for &(q, m) in &live {
                let disjoint = p + size <= q || q + m.size() <= p;
                assert!(disjoint, "overlap");
            }
            live.push((p, layout));
        }
        // A freed block is handed out again for its class.
        let l = Layout::from_size_align(24, 8).unwrap();
        let a = unsafe { heap.alloc(l, |b| arena.grow(b)) };
        unsafe { heap.dealloc(a, l) };
        let b = unsafe { heap.alloc(Layout::from_size_align(17, 8).unwrap(), |b| arena.grow(b)) };
        assert_eq!(a, b);
        assert!(Heap::fits(Layout::new::<[u8; 20]>(), Layout::new::<[u8; 32]>()));
        assert!(!Heap::fits(Layout::new::<[u8; 20]>(), Layout::new::<[u8; 33]>()));
    }
}
