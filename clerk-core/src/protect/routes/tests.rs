use super::*;

fn m(patterns: &[&str]) -> RouteMatcher {
    RouteMatcher::new(patterns).unwrap()
}

fn hit(m: &RouteMatcher, path: &str) -> bool {
    m.matches(&Method::GET, path).unwrap()
}

fn malformed(m: &RouteMatcher, path: &str) -> bool {
    m.matches(&Method::GET, path) == Err(MalformedPath)
}

#[test]
fn wildcard_group_and_the_dashboardxyz_trap() {
    let d = m(&["/dashboard(.*)"]);
    for p in [
        "/dashboard",
        "/dashboard/",
        "/dashboard/a/b",
        "/dashboardxyz",
        "/DASHBOARD/x",
    ] {
        assert!(hit(&d, p), "{p}");
    }
    for p in ["/", "/dash", "/x/dashboard"] {
        assert!(!hit(&d, p), "{p}");
    }
    let d = m(&["/dashboard/:path*"]);
    for p in [
        "/dashboard",
        "/dashboard/",
        "/dashboard/a",
        "/dashboard/a/b",
    ] {
        assert!(hit(&d, p), "{p}");
    }
    assert!(!hit(&d, "/dashboardxyz"));
}

#[test]
fn named_parameters_and_modifiers() {
    let orgs = m(&["/api/orgs/:id"]);
    assert!(hit(&orgs, "/api/orgs/org_1"));
    assert!(hit(&orgs, "/api/orgs/org_1/"), "optional trailing slash");
    assert!(!hit(&orgs, "/api/orgs/"));
    assert!(!hit(&orgs, "/api/orgs/org_1/members"));
    let opt = m(&["/files/:name?"]);
    assert!(hit(&opt, "/files") && hit(&opt, "/files/a") && !hit(&opt, "/files/a/b"));
    let plus = m(&["/docs/:path+"]);
    assert!(!hit(&plus, "/docs") && hit(&plus, "/docs/a") && hit(&plus, "/docs/a/b"));
    let custom = m(&[r"/users/:id(\d+)"]);
    assert!(hit(&custom, "/users/42") && !hit(&custom, "/users/abc"));
    let unnamed = m(&["/api/(.*)"]);
    assert!(hit(&unnamed, "/api/x") && !hit(&unnamed, "/api"));
    let dotted = m(&["/file.:ext"]);
    assert!(hit(&dotted, "/file.json") && !hit(&dotted, "/filejson"));
}

#[test]
fn literals_are_escaped_and_case_insensitive() {
    let lit = m(&[r"/a.b\+c"]);
    assert!(hit(&lit, "/A.B+C"));
    assert!(!hit(&lit, "/axb+c"));
    assert!(
        RouteMatcher::new(["/a+c"]).is_err(),
        "a stray modifier, as in path-to-regexp"
    );
    let esc = m(&[r"/what\?"]);
    assert!(hit(&esc, "/what?"));
}

#[test]
fn encoded_letters_match_in_the_decoded_reading() {
    let admin = m(&["/admin(.*)"]);
    for p in [
        "/%61dmin",
        "/%41DMIN/x",
        "/adm%69n",
        "/admin%20x",
        "/%61%64%6d%69%6e",
    ] {
        assert!(hit(&admin, p), "{p}");
    }
    let orgs = m(&["/api/orgs/:id"]);
    assert!(hit(&orgs, "/api/orgs/org%5F1"));
    assert!(hit(&orgs, "/%61pi/orgs/a%20b"));
    let custom = m(&[r"/users/:id(\d+)"]);
    assert!(hit(&custom, "/users/%34%32"), "decoded digits");
}

#[test]
fn encoded_slashes_match_as_one_segment_and_as_separators() {
    let orgs = m(&["/api/orgs/:id"]);
    assert!(
        hit(&orgs, "/api/orgs/a%2Fb"),
        "one segment, as frameworks route it"
    );
    assert!(hit(&orgs, "/api/orgs/a%5cb"));
    assert!(hit(&orgs, "/api%2Forgs%2Forg_1"), "fully decoded");
    let deep = m(&["/api/orgs/:id/members"]);
    assert!(hit(&deep, "/api/orgs/o%2Fmembers"));
    assert!(hit(&deep, "/api/orgs/o%5Cmembers"));
    assert!(
        hit(&deep, r"/api\orgs\o\members"),
        "a raw backslash reads as /"
    );
    let admin = m(&["/admin(.*)"]);
    assert!(hit(&admin, "/admin%2Fusers"));
    assert!(hit(&m(&["/admin"]), "/admin%2F"));
}

#[test]
fn control_characters_and_delimiters_are_malformed_wherever_they_are() {
    let guards = m(&["/admin(.*)", "/api/orgs/:id", "/files/:path*"]);
    for base in ["/admin/reports", "/api/orgs/org_1", "/files/a/b.txt"] {
        for byte in (0u8..0x20).chain([0x7f]) {
            let esc = format!("%{byte:02X}");
            for p in [
                format!("{base}{esc}"),
                format!("/{esc}{}", &base[1..]),
                format!("{}{esc}{}", &base[..3], &base[3..]),
            ] {
                assert!(malformed(&guards, &p), "{p}");
                assert!(malformed(&guards, &p.to_lowercase()), "{p}");
            }
        }
    }
    for p in [
        "/admin/reports%0A",
        "/admin/%0Areports",
        "/admin/reports%0D%0A",
        "/admin%C2%85", // U+0085, a C1 control
    ] {
        assert!(malformed(&guards, p), "{p}");
    }
    assert!(
        hit(&guards, "/admin%E2%80%8Bx"),
        "a zero-width space is no control"
    );
}

#[test]
fn encoded_question_marks_and_hashes_stay_in_their_segment() {
    // Routers see `%3F` / `%23` as part of the segment; so does the
    // decoded reading, so these protect rather than slip past `[^/#?]`.
    let guards = m(&["/admin(.*)", "/api/orgs/:id", "/files/:path*"]);
    for p in [
        "/api/orgs/org_1%3F",
        "/api/orgs/org_1%23",
        "/api/orgs/%3F",
        "/api/orgs/c%23",
        "/files/a/b.txt%3F",
        "/files/https%3A%2F%2Fx.com%2Fa%3Fq%3D1",
        "/admin%3Fx",
    ] {
        assert!(hit(&guards, p), "{p}");
    }
    assert!(
        !hit(&guards, "/tags/c%23"),
        "unprotected paths are not refused"
    );
    assert!(
        hit(&m(&[r"/what\?"]), "/what%3F"),
        "the fully decoded reading"
    );
}

#[test]
fn empty_segments_match_parameters_as_axum_routes_them() {
    // matchit 0.8 routes `/api/orgs//members` to `/api/orgs/{id}/members`
    // with an empty `id`.
    let members = m(&["/api/orgs/:id/members"]);
    for p in [
        "/api/orgs//members",
        "/api/orgs//members/",
        "/api/orgs/%2F/members",
    ] {
        assert!(hit(&members, p), "{p}");
    }
    let tenant = m(&["/:tenant/admin(.*)"]);
    assert!(hit(&tenant, "//admin"));
    let deep = m(&["/orgs/:org/users/:user/delete"]);
    assert!(hit(&deep, "/orgs//users//delete"));
    // A catch-all that needs one character: `/api//` gives it `/`.
    let rest = m(&["/api/(.+)"]);
    assert!(hit(&rest, "/api//"));
    assert!(hit(&rest, "/api///"));
    assert!(!hit(&rest, "/api/"));
}

#[test]
fn targets_that_are_not_paths_are_malformed() {
    let all = m(&["/(.*)"]);
    for p in ["*", "", "example.com:443", "admin"] {
        assert!(malformed(&all, p), "{p:?}");
    }
    // Below a mount point, an empty remainder is the mount's root.
    let root = m(&["/"]);
    assert!(
        root.matches(&Method::GET, RequestPath::nested("/nested", ""))
            .unwrap()
    );
}

#[test]
fn bad_escapes_overlong_utf8_and_double_encoding_are_malformed() {
    let admin = m(&["/admin(.*)"]);
    for p in [
        "/admin%zz",
        "/admin%",
        "/admin%4",
        "/%ff%fe",
        "/admin%80",
        "/admin%C0%AF", // overlong `/`
        "/%C1%A1dmin",  // overlong `a`
        "/admin%E0%80%AF",
        "/admin%ED%A0%80",     // a UTF-16 surrogate
        "/x/%25%30%30",        // twice decoded: a NUL
        "/x/%252E%252E/admin", // twice decoded: a dot segment
    ] {
        assert!(malformed(&admin, p), "{p}");
    }
    assert!(
        hit(&admin, "/admin/100%25"),
        "a lone encoded percent is fine"
    );
    assert!(hit(&admin, "/admin/%25zz"));
    assert!(hit(&admin, "/admin/a%2520b"), "a file name holding %20");
    // Double-encoded paths match as a proxy decoding twice reads them.
    for p in ["/%2561dmin", "/%25%36%31dmin", "/%2541DMIN/x"] {
        assert!(hit(&admin, p), "{p}");
    }
}

#[test]
fn dot_segments_are_malformed_raw_or_encoded() {
    let admin = m(&["/admin(.*)"]);
    for p in [
        "/public/../admin",
        "/./admin",
        "/admin/.",
        "/admin/..",
        "/public/%2E%2E/admin",
        "/public/.%2e/admin",
        "/public/%2e/admin",
        "/public%2F..%2Fadmin",
        r"/public\..\admin",
        "/public/..;x/admin",
        "/x/..",
    ] {
        assert!(malformed(&admin, p), "{p}");
    }
    for p in [
        "/admin/.well-known",
        "/admin/a.b",
        "/admin/...",
        "/admin/..x",
    ] {
        assert!(hit(&admin, p), "{p}");
    }
}

#[test]
fn double_slashes_trailing_slashes_and_case() {
    let admin = m(&["/api/admin"]);
    for p in [
        "//api/admin",
        "/api//admin",
        "/api/admin//",
        "/api/admin/",
        "/API/Admin",
        "/api/ADMIN/",
        "///api///admin///",
    ] {
        assert!(hit(&admin, p), "{p}");
    }
    assert!(!hit(&admin, "/api/admin/x"));
    assert!(!hit(&admin, "/api/adminx"));
}

#[test]
fn semicolon_parameters_are_cut_in_one_reading() {
    let admin = m(&["/api/admin"]);
    for p in [
        "/api/admin;x",
        "/api;x/admin",
        "/api/admin;jsessionid=1/",
        "/api/admin%3Bx",
    ] {
        assert!(hit(&admin, p), "{p}");
    }
    let orgs = m(&["/api/orgs/:id"]);
    assert!(
        hit(&orgs, "/api/orgs/org_1;x"),
        "also matches as one segment"
    );
    assert!(hit(&m(&["/api/orgs/:id/members"]), "/api/orgs/o;x/members"));
}

#[test]
fn nested_paths_protect_when_either_matches() {
    let full = m(&["/nested/admin(.*)"]);
    let mounted = m(&["/admin(.*)"]);
    let nested = RequestPath::nested("/nested/admin/x", "/admin/x");
    assert!(full.matches(&Method::GET, nested).unwrap());
    assert!(mounted.matches(&Method::GET, nested).unwrap());
    assert!(!full.matches(&Method::GET, "/admin/x").unwrap());
    let bad = RequestPath::nested("/nested/admin", "/admin%0A");
    assert_eq!(full.matches(&Method::GET, bad), Err(MalformedPath));
    assert_eq!(RequestPath::nested("/a", "/a"), RequestPath::from("/a"));
}

#[test]
fn methods_head_is_get_and_functions() {
    let m = RouteMatcher::with_methods([
        (
            "/api/settings(.*)",
            Some(vec![Method::POST, Method::DELETE]),
        ),
        ("/api/reports", Some(vec![Method::GET])),
        ("/api/admin", None),
    ])
    .unwrap();
    assert!(m.matches(&Method::POST, "/api/settings/x").unwrap());
    assert!(!m.matches(&Method::GET, "/api/settings/x").unwrap());
    assert!(!m.matches(&Method::HEAD, "/api/settings/x").unwrap());
    assert!(m.matches(&Method::GET, "/api/admin").unwrap());
    assert!(m.matches(&Method::GET, "/api/reports").unwrap());
    assert!(
        m.matches(&Method::HEAD, "/api/reports").unwrap(),
        "HEAD is GET"
    );
    assert!(!m.matches(&Method::POST, "/api/reports").unwrap());
    for loose in ["get", "Get", "head", "hEAD"] {
        let method = Method::from_bytes(loose.as_bytes()).unwrap();
        assert!(m.matches(&method, "/api/reports").unwrap(), "{loose}");
    }
    let delete = Method::from_bytes(b"delete").unwrap();
    assert!(m.matches(&delete, "/api/settings/x").unwrap());
    assert!(
        !m.matches(&Method::from_bytes(b"post").unwrap(), "/api/reports")
            .unwrap()
    );
    let f = RouteMatcher::from_fn(|method, path| method == Method::PUT && path.ends_with(".json"));
    assert!(f.matches(&Method::PUT, "/x%2Ejson").unwrap());
    assert!(!f.matches(&Method::GET, "/x.json").unwrap());
    let get_only = RouteMatcher::from_fn(|method, _| method == Method::GET);
    assert!(get_only.matches(&Method::HEAD, "/").unwrap(), "HEAD is GET");
    assert!(RouteMatcher::all().matches(&Method::GET, "/").unwrap());
    // A function sees every reading.
    let raw_only = RouteMatcher::from_fn(|_, path| path == "/admin");
    assert!(raw_only.matches(&Method::GET, "/%61dmin").unwrap());
    assert!(raw_only.matches(&Method::GET, "//admin").unwrap());
}

#[test]
fn invalid_patterns_are_errors() {
    for bad in [
        "/a/:",
        "/a/(",
        "/a/)",
        "/a/()",
        "/{x}",
        "/a*",
        "/a\\",
        "/(?:x)",
        "admin(.*)",
        "dashboard/:id",
        "",
    ] {
        assert!(RouteMatcher::new([bad]).is_err(), "{bad}");
    }
    assert!(RouteMatcher::with_methods([("/a", Some(vec![]))]).is_err());
}

#[test]
fn rule_methods_compare_case_insensitively() {
    let lower_post = Method::from_bytes(b"post").unwrap();
    let m = RouteMatcher::with_methods([("/api/x", Some(vec![lower_post]))]).unwrap();
    assert!(m.matches(&Method::POST, "/api/x").unwrap());
    assert!(!m.matches(&Method::GET, "/api/x").unwrap());
}
