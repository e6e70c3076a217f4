//! Methods and paths as the routers see them.
//!
//! Paths are matched segment by segment after percent-decoding. Empty segments (`//api`) and dot
//! segments (`/api/../api`) match nothing: Spar never resolves them. Every route is also served
//! under `/v1` and a trailing slash is tolerated (docs/API.md §1.1).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Self {
        match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "OTHER",
        }
    }

    /// Methods whose requests carry a body (docs/API.md §1.2).
    pub fn has_body(self) -> bool {
        matches!(self, Self::Post | Self::Put | Self::Patch)
    }

    /// How routers match: `HEAD` routes like `GET`.
    pub fn routed(self) -> Self {
        if self == Self::Head { Self::Get } else { self }
    }
}

/// A request path split into decoded segments, `/v1` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
}

impl Path {
    /// Splits a raw request path. `None` when it can never name a route.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if seg.is_empty() || seg == "." || seg == ".." {
                    return None;
                }
                segments.push(super::body::percent_decode(seg, false));
            }
        }
        if segments.first().is_some_and(|s| s == "v1") {
            segments.remove(0);
            // The agent card is served without the prefix only, and `/v1` alone names nothing
            // (not the console's `/`).
            if segments.first().is_none_or(|s| s == ".well-known") {
                return None;
            }
        }
        Some(Self { segments })
    }

    /// The segments as `&str`, for a router's `match`.
    pub fn segs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// What a router answers for a path it owns: an endpoint, or the methods the path does take
/// (405), or nothing at that path (404).
pub enum Routed<E> {
    Found(E),
    WrongMethod(&'static [Method]),
    NoRoute,
}

impl<E> Routed<E> {
    /// From a router arm: the endpoint the method names at this path, and the methods it takes.
    pub fn arm(endpoint: Option<E>, allowed: &'static [Method]) -> Self {
        match endpoint {
            Some(e) => Self::Found(e),
            None => Self::WrongMethod(allowed),
        }
    }

    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Routed<F> {
        match self {
            Self::Found(e) => Routed::Found(f(e)),
            Self::WrongMethod(allowed) => Routed::WrongMethod(allowed),
            Self::NoRoute => Routed::NoRoute,
        }
    }
}

/// Declares a family's endpoint enum with its [`name`](Self::name)s and `NAMES` from one list,
/// so an endpoint cannot be left out of the names that metrics and the OpenAPI document use.
macro_rules! endpoints {
    ($(#[$meta:meta])* $vis:vis enum $enum:ident {
        $( $(#[$vmeta:meta])* $variant:ident $(($arg:ty))? => $name:literal, )*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis enum $enum {
            $( $(#[$vmeta])* $variant $(($arg))?, )*
        }

        impl $enum {
            /// Every endpoint's stable name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$( $name ),*];

            /// A stable name for logs, metrics and the OpenAPI document's `operationId`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( endpoints!(@pattern $variant $(($arg))?) => $name, )*
                }
            }
        }
    };
    (@pattern $variant:ident ($arg:ty)) => { Self::$variant(_) };
    (@pattern $variant:ident) => { Self::$variant };
}
pub(crate) use endpoints;
