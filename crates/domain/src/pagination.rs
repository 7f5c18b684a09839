/// A 1-based page number from a URL. Anything else (0, negative, not a number, absurdly
/// large) is not a page, so the caller answers 404 rather than 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageNumber(u32);

impl PageNumber {
    pub const FIRST: PageNumber = PageNumber(1);
    const MAX: u32 = 1_000_000;

    pub fn parse(raw: &str) -> Option<Self> {
        let n: u32 = raw.parse().ok()?;
        Self::new(n)
    }

    pub fn new(n: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn offset(self, per_page: u32) -> u64 {
        u64::from(self.0 - 1) * u64::from(per_page)
    }
}

/// One page of a list, with what the pager needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub page: PageNumber,
    pub per_page: u32,
    pub total: u64,
}

impl<T> Paginated<T> {
    pub fn total_pages(&self) -> u32 {
        let per_page = u64::from(self.per_page.max(1));
        u32::try_from(self.total.div_ceil(per_page))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    pub fn has_next(&self) -> bool {
        self.page.get() < self.total_pages()
    }

    pub fn has_previous(&self) -> bool {
        self.page.get() > 1
    }

    /// A page past the end is a 404, except the first page of an empty list.
    pub fn is_past_the_end(&self) -> bool {
        self.page.get() > self.total_pages()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_numbers_are_pages() {
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999", "1000001"] {
            assert_eq!(PageNumber::parse(bad), None, "{bad}");
        }
        assert_eq!(PageNumber::parse("3").map(PageNumber::get), Some(3));
    }

    #[test]
    fn pager_counts_pages() {
        let p = Paginated::<()> {
            items: vec![],
            page: PageNumber::FIRST,
            per_page: 10,
            total: 21,
        };
        assert_eq!(p.total_pages(), 3);
        assert!(p.has_next());
        assert!(!p.has_previous());
        let empty = Paginated::<()> {
            items: vec![],
            page: PageNumber::FIRST,
            per_page: 10,
            total: 0,
        };
        assert!(!empty.is_past_the_end());
    }
}
