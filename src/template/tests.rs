//! The template's unit tests: parsing, rendering and quoting against GNU parallel's and GNU
//! xargs' outputs.

use super::grammar::*;
use super::quote::*;
use super::*;

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn argv(cmd: &[&str], recs: &[&[&str]], seq: u64, slot: usize) -> Vec<String> {
    let t = Template::new(&os(cmd), false);
    let recs: Vec<Record> = recs.iter().map(|r| os(r)).collect();
    match t.render(&Ctx {
        seq,
        slot,
        records: &recs,
        learned: &Learned::default(),
    }) {
        Rendered::Argv(a) => a.into_iter().map(|s| s.into_string().unwrap()).collect(),
        Rendered::Shell(s) => vec!["SHELL".into(), String::from_utf8(s).unwrap()],
    }
}

#[test]
fn transforms_match_gnu_parallel() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // value, {.}, {/}, {//}, {/.}
        ("foo.", "foo", "foo.", ".", "foo"),
        (".bashrc", "", ".bashrc", ".", ""),
        ("a/.b", "a/", ".b", "a", ""),
        ("a/b.c/d", "a/b.c/d", "d", "a/b.c", "d"),
        ("/a", "/a", "a", "/", "a"),
        ("a/", "a/", "", ".", ""),
        ("a/b/", "a/b/", "", "a", ""),
        ("x.tar.gz", "x.tar", "x.tar.gz", ".", "x.tar"),
        ("a", "a", "a", ".", "a"),
        ("/", "/", "", "/", ""),
    ];
    for &(v, ne, b, d, bne) in cases {
        let t = |tr| String::from_utf8(transform(v.as_bytes(), tr)).unwrap();
        assert_eq!(t(Transform::NoExt), ne, "{{.}} of {v}");
        assert_eq!(t(Transform::Base), b, "{{/}} of {v}");
        assert_eq!(t(Transform::Dir), d, "{{//}} of {v}");
        assert_eq!(t(Transform::BaseNoExt), bne, "{{/.}} of {v}");
    }
}

#[test]
fn placeholders_inside_words_and_unknown_braces_literal() {
    assert_eq!(
        argv(
            &["echo", "x{}y", "{#}-{%}", "{foo}", "{}}"],
            &[&["v"]],
            7,
            2
        ),
        ["echo", "xvy", "7-2", "{foo}", "v}"]
    );
    assert_eq!(
        argv(
            &["cp", "{}", "{.}.bak", "{/}", "{//}", "{/.}"],
            &[&["d/f.txt"]],
            1,
            1
        ),
        ["cp", "d/f.txt", "d/f.bak", "f.txt", "d", "f"]
    );
}

#[test]
fn values_appended_without_placeholder() {
    assert_eq!(
        argv(&["echo", "-n"], &[&["a b"]], 1, 1),
        ["echo", "-n", "a b"]
    );
    // Any placeholder, {#} included, means nothing is appended (GNU parallel).
    assert_eq!(argv(&["echo", "{#}"], &[&["v"]], 3, 1), ["echo", "3"]);
}

#[test]
fn columns_and_several_records() {
    assert_eq!(
        argv(&["echo", "{2}", "{1/}", "{3}"], &[&["a/x", "b"]], 1, 1),
        ["echo", "b", "x"]
    );
    // A missing position inside a word is empty; blanks may follow N; {-N} from the end.
    assert_eq!(
        argv(&["echo", "<{3}>", "{1 }", "{-1}"], &[&["a", "b"]], 1, 1),
        ["echo", "<>", "a", "b"]
    );
    // In a batch, {N} is the batch's Nth value.
    assert_eq!(
        argv(&["echo", "{3}", "{1}"], &[&["a"], &["b"], &["c"]], 1, 1),
        ["echo", "c", "a"]
    );
    assert_eq!(
        argv(&["echo", "{}"], &[&["a", "b"]], 1, 1),
        ["echo", "a", "b"]
    );
    assert_eq!(
        argv(&["echo", "a{}b"], &[&["1"], &["2"]], 1, 1),
        ["echo", "a1b", "a2b"]
    );
    assert_eq!(
        argv(&["echo", "-"], &[&["1"], &["2"]], 1, 1),
        ["echo", "-", "1", "2"]
    );
}

#[test]
fn shell_mode_quotes_every_value() {
    let t = Template::new(&os(&["echo {} && echo {.}"]), false);
    assert_eq!(t.mode(), Mode::Shell);
    let recs = vec![os(&["it's $(x).c"])];
    let r = t.render(&Ctx {
        seq: 1,
        slot: 1,
        records: &recs,
        learned: &Learned::default(),
    });
    assert_eq!(
        r,
        Rendered::Shell(b"echo 'it'\"'\"'s $(x).c' && echo 'it'\"'\"'s $(x)'".to_vec())
    );
    let t = Template::new(&os(&["wc", "-l"]), true);
    let r = t.render(&Ctx {
        seq: 1,
        slot: 1,
        records: &[os(&["a b"])],
        learned: &Learned::default(),
    });
    assert_eq!(r, Rendered::Shell(b"wc -l 'a b'".to_vec()));
}

#[test]
fn shell_mode_context_replace_with_several_records() {
    let t = Template::new(&os(&["printf '%s  ' a{}b {#} && echo x{.}"]), false);
    let recs = vec![os(&["1.c"]), os(&["it's"])];
    let r = t.render(&Ctx {
        seq: 4,
        slot: 1,
        records: &recs,
        learned: &Learned::default(),
    });
    assert_eq!(
        r,
        Rendered::Shell(b"printf '%s  ' a1.cb a'it'\"'\"'s'b 4 && echo x1 x'it'\"'\"'s'".to_vec())
    );
}

#[test]
fn mode_selection() {
    assert_eq!(Template::new(&os(&["echo"]), false).mode(), Mode::Argv);
    assert_eq!(
        Template::new(&os(&["echo", "a b"]), false).mode(),
        Mode::Argv
    );
    assert_eq!(Template::new(&os(&["gzip -9"]), false).mode(), Mode::Shell);
    assert_eq!(Template::new(&os(&["a;b"]), false).mode(), Mode::Shell);
    assert_eq!(Template::new(&[], false).mode(), Mode::ValueIsCommand);
}

#[test]
fn plus_bash_operations_and_filters() {
    let syn = Syntax {
        plus: true,
        ..Syntax::default()
    };
    let one = |w: &str, v: &str| {
        let t = Template::with_syntax(&os(&["echo", w]), false, &syn);
        let rec = os(&[v]);
        match t.render(&Ctx {
            seq: 1,
            slot: 1,
            records: &[rec],
            learned: &Learned::default(),
        }) {
            Rendered::Argv(a) => a[1].to_string_lossy().into_owned(),
            Rendered::Shell(_) => unreachable!(),
        }
    };
    assert_eq!(one("{/def/ghi}", "abcdefdef"), "abcghidef");
    assert_eq!(one("{//def/ghi}", "abcdefdef"), "abcghighi");
    assert_eq!(one("{/#abc/x}", "abcabc"), "xabc");
    assert_eq!(one("{/%abc/x}", "abcabc"), "abcx");
    assert_eq!(one("{^a}", "abcAa"), "AbcAa");
    assert_eq!(one("{^^a}", "abcAa"), "AbcAA");
    assert_eq!(one("{,A}", "AbcAa"), "abcAa");
    assert_eq!(one("{,,A}", "AbcAa"), "abcaa");
    let t = Template::with_syntax(&os(&["echo", "{uniq}"]), false, &syn);
    assert!(t.accepts(&[os(&["a"]), os(&["b"])]));
    assert!(!t.accepts(&[os(&["a"]), os(&["a"])]));
    let t = Template::with_syntax(&os(&["echo", "{choose_k}"]), false, &syn);
    assert!(t.accepts(&[os(&["A", "B"])]));
    assert!(!t.accepts(&[os(&["B", "A"])]));
}

#[test]
fn direct_words_only_when_no_shell_is_needed() {
    let d = |s: &str| {
        direct_words(s.as_bytes()).map(|w| {
            w.iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        d("gzip -9 a/b.c"),
        Some(vec!["gzip".into(), "-9".into(), "a/b.c".into()])
    );
    assert_eq!(d("true  1"), Some(vec!["true".into(), "1".into()]));
    for needs in [
        "echo a",
        "gzip 'a b'",
        "a > b",
        "X=1 cmd",
        "cmd ~/x",
        "cd /",
        "",
        "f *",
    ] {
        assert_eq!(d(needs), None, "{needs}");
    }
}

#[test]
fn shell_words_quote_as_gnu_parallel() {
    let q = |w: &[u8]| {
        let mut out = Vec::new();
        shell_word_into(&mut out, w);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(q(b"a-b_c.d+e/f9"), "a-b_c.d+e/f9");
    assert_eq!(q(b""), "''");
    assert_eq!(q(b"a b"), "'a b'");
    assert_eq!(q(b"it's"), "'it'\"'\"'s'");
    assert_eq!(q(b"'a'"), "\"'\"'a'\"'\"");
    assert_eq!(q(b"x:y@z%"), "'x:y@z%'");
}

#[test]
fn shell_escape_quotes_as_gnu_xargs() {
    let q = |w: &[u8]| String::from_utf8(shell_escape(w)).unwrap();
    assert_eq!(q(b"plain-word_1.c"), "plain-word_1.c");
    assert_eq!(q(b""), "''");
    assert_eq!(q(b"a b"), "'a b'");
    assert_eq!(q(b"it's"), "\"it's\"");
    assert_eq!(q(b"it's $x"), "'it'\\''s $x'");
    assert_eq!(q(b"\n "), "''$'\\n'' '");
    assert_eq!(q(b"\x0c\r\t\x0b\n"), "''$'\\f\\r\\t\\v\\n'");
    assert_eq!(q(b"a\nb"), "'a'$'\\n''b'");
    assert_eq!(q(b"a\x7f"), "'a'$'\\177'");
    assert_eq!(q(b"~x"), "'~x'");
    assert_eq!(q(b"x~"), "x~");
    assert_eq!(q(b"{"), "'{'");
    assert_eq!(q(b"{}"), "{}");
    assert_eq!(q(b"a=b"), "'a=b'");
}

#[test]
fn display_quotes_only_when_needed() {
    let r = Rendered::Argv(os(&["echo", "a b", "it's", "", "x-y/z.c"]));
    assert_eq!(r.display(), b"echo 'a b' 'it'\\''s' '' x-y/z.c");
}
