use crate::Slug;

/// WordPress's two built-in taxonomies: categories nest, tags do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Taxonomy {
    Category,
    Tag,
}

impl Taxonomy {
    pub fn as_str(self) -> &'static str {
        match self {
            Taxonomy::Category => "category",
            Taxonomy::Tag => "tag",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "category" => Some(Taxonomy::Category),
            "tag" => Some(Taxonomy::Tag),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub id: i64,
    pub taxonomy: Taxonomy,
    pub slug: Slug,
    pub name: String,
    pub parent_id: Option<i64>,
    pub description: String,
}

impl Term {
    /// `/category/slug/` or `/tag/slug/`. Nested category paths (`/category/parent/child/`)
    /// are answered too, but this short form is the one the site links to.
    pub fn path(&self) -> String {
        format!("/{}/{}/", self.taxonomy.as_str(), self.slug)
    }
}
