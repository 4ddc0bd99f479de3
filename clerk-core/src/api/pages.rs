// Paginated lists: page by page, a page at an offset, the total, or all.
use std::fmt;
use std::marker::PhantomData;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{
    Api, ApiError, DEFAULT_PAGE, MAX_PAGE, MAX_PAGE_BYTES, MAX_PAGES, decode, query_string,
};

/// A paginated list, fetched one page at a time as you ask: stop whenever
/// you like and no further call is made. An error ends the walk.
///
/// ```
/// use clerk_core::api::{MembershipList, UserList};
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let admins = MembershipList::new().role("org:admin");
/// let mut members = clerk.api().organizations().memberships("org_123", &admins);
/// while let Some(page) = members.next_page().await {
///     for m in page? {
///         println!("{} is {}", m.public_user_data.user_id, m.role);
///     }
/// }
/// // Page 3 of 10 in one call, and the total (Clerk's `/users/count`).
/// let mut third = clerk.api().users().list(&UserList::new()).page_size(10).starting_at(20);
/// let total = third.total().await?;
/// let page = third.next_page().await.transpose()?.unwrap_or_default();
/// # let _ = (total, page);
/// // A small list, whole.
/// let everyone = clerk.api().users().list(&UserList::new()).collect_all().await?;
/// # let _ = everyone;
/// # Ok(()) }
/// ```
pub struct Pages<T> {
    api: Api,
    path: String,
    /// Where the total is asked when pages do not carry it (`/users`
    /// answers a bare array; the SDK asks `/users/count`).
    count_path: Option<String>,
    refused: Option<ApiError>,
    query: Vec<(String, String)>,
    limit: u32,
    offset: u64,
    pages: u32,
    total: Option<u64>,
    done: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("total", &self.total)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// `{ "total_count": n }` (`/users/count`).
#[derive(Deserialize)]
pub(crate) struct TotalCount {
    pub(crate) total_count: u64,
}

/// A page as Clerk answers it: `{ "data": [...], "total_count": n }`, or a
/// bare array (users; sessions without `paginated`).
#[derive(Deserialize)]
struct Counted<T> {
    data: Vec<T>,
    #[serde(default)]
    total_count: Option<u64>,
}

impl<T> Pages<T> {
    /// Items per page (1 to 500), before the first page. The default is
    /// 100 (Clerk's is 10): fewer calls for a walk, same budget per call.
    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.limit = size.clamp(1, MAX_PAGE);
        self
    }

    /// Starts the walk at `offset` items in (Clerk's `offset`), before the
    /// first page: page 3 of 10 is `.page_size(10).starting_at(20)`, one
    /// call.
    #[must_use]
    pub fn starting_at(mut self, offset: u64) -> Self {
        if self.pages == 0 {
            self.offset = offset;
        }
        self
    }

    pub(crate) fn with_count_path(mut self, path: String) -> Self {
        self.count_path = Some(path);
        self
    }
}

impl<T: DeserializeOwned> Pages<T> {
    /// The next page, `None` once the list is walked (or after an error).
    pub async fn next_page(&mut self) -> Option<Result<Vec<T>, ApiError>> {
        let page = self.fetch().await;
        if !matches!(page, Some(Ok(_))) {
            self.done = true;
        }
        page
    }

    async fn fetch(&mut self) -> Option<Result<Vec<T>, ApiError>> {
        if self.done {
            return None;
        }
        if let Some(e) = self.refused.take() {
            return Some(Err(e));
        }
        if self.pages >= MAX_PAGES {
            tracing::warn!(path = %self.path, "Backend API list did not end; walk stopped");
            return Some(Err(ApiError::InvalidResponse));
        }
        self.pages += 1;
        let mut query = self.query.clone();
        query.push(("limit".to_owned(), self.limit.to_string()));
        query.push(("offset".to_owned(), self.offset.to_string()));
        let target = format!("{}{}", self.path, query_string(&query));
        let bytes = match self
            .api
            .call_bytes(Method::GET, &target, None, MAX_PAGE_BYTES)
            .await
        {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        // A bare array or a counted page, told apart by the first byte.
        let items = if bytes.trim_ascii_start().first() == Some(&b'[') {
            match decode::<Vec<T>>(&bytes) {
                Ok(items) => items,
                Err(e) => return Some(Err(e)),
            }
        } else {
            match decode::<Counted<T>>(&bytes) {
                Ok(page) => {
                    self.total = page.total_count.or(self.total);
                    page.data
                }
                Err(e) => return Some(Err(e)),
            }
        };
        if items.is_empty() {
            return None;
        }
        self.offset = self.offset.saturating_add(items.len() as u64);
        // The end: past the total when the list gives one (a page cut
        // short by the server does not end it early), else a short page.
        self.done = match self.total {
            Some(total) => self.offset >= total,
            None => items.len() < self.limit as usize,
        };
        Some(Ok(items))
    }

    /// The list's total, once a page that carries it has arrived.
    pub fn total_count(&self) -> Option<u64> {
        self.total
    }

    /// The list's total: the one a page carried, else one call (users: to
    /// `/users/count` with the same filters, as the SDK's `getUserList`;
    /// other lists: a one-item page, whose `total_count` it reads).
    ///
    /// # Errors
    /// See [`ApiError`]; the walk itself is unaffected.
    pub async fn total(&mut self) -> Result<u64, ApiError> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        if let Some(e) = &self.refused {
            return Err(e.clone());
        }
        let total = match &self.count_path {
            Some(path) => {
                let c: TotalCount = self.api.call(Method::GET, path, None).await?;
                c.total_count
            }
            None => {
                let mut query = self.query.clone();
                query.push(("limit".to_owned(), "1".to_owned()));
                query.push(("offset".to_owned(), "0".to_owned()));
                let target = format!("{}{}", self.path, query_string(&query));
                let bytes = self
                    .api
                    .call_bytes(Method::GET, &target, None, MAX_PAGE_BYTES)
                    .await?;
                decode::<Counted<serde::de::IgnoredAny>>(&bytes)?
                    .total_count
                    .ok_or(ApiError::InvalidResponse)?
            }
        };
        self.total = Some(total);
        Ok(total)
    }

    /// Every remaining item, page after page (at most the walk's page
    /// bound): for lists you know are small. Stops at the first error.
    ///
    /// # Errors
    /// The first page's error; items already fetched are dropped.
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}

impl Api {
    /// A walk of `path`; a path refused by [`segment`](super::segment) gives its error on
    /// the first page, with no call made.
    pub(crate) fn pages<T>(
        &self,
        path: Result<String, ApiError>,
        query: Vec<(String, String)>,
    ) -> Pages<T> {
        let (path, refused) = match path {
            Ok(p) => (p, None),
            Err(e) => (String::new(), Some(e)),
        };
        Pages {
            api: self.clone(),
            path,
            count_path: None,
            refused,
            query,
            limit: DEFAULT_PAGE,
            offset: 0,
            pages: 0,
            total: None,
            done: false,
            item: PhantomData,
        }
    }
}
