/*
 * http_cases.h - request heads and chunked bodies shared by the unit tests
 * (tests/unit/test_http.c) and the fuzzer's seed corpus (tests/fuzz/seeds.c).
 *
 * A request case: the input, and either the bytes it consumes (> 0; -1 is
 * the whole input) or the status of the -1 it gets.  A chunked case: the
 * input, the result (1 done, -1 malformed), the decoded body and, when done,
 * the bytes consumed (-1: the whole input), or the status.
 */
#ifndef TEST_HTTP_CASES_H
#define TEST_HTTP_CASES_H

#include <stddef.h>

struct req_case {
	const char *name;
	const char *in;
	size_t      len;        /* 0: strlen(in) */
	int         consumed;   /* > 0 bytes, -1: all of in; 0 when status is set */
	int         status;     /* expected req.error when malformed, else 0 */
};

#define OK(n, s)        { n, s, 0, -1, 0 }
#define OKN(n, s, c)    { n, s, 0, c, 0 }
#define BAD(n, s, st)   { n, s, 0, 0, st }
#define BADL(n, s, st)  { n, s, sizeof(s) - 1, 0, st }

#define H11 " HTTP/1.1\r\nHost: a\r\n"

static const struct req_case req_cases[] = {
	/* ---- valid ---- */
	OK("simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	OK("HTTP/1.0 without Host", "GET /x HTTP/1.0\r\n\r\n"),
	OK("query", "GET /a/b?c=d&e=f HTTP/1.1\r\nHost: a\r\n\r\n"),
	OK("empty query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"),
	OKN("body bytes not consumed", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 48),
	OKN("pipelined request not consumed", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n", 27),
	OK("leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	OK("OWS around value", "GET /" H11 "X-A: \t v a l \t \r\n\r\n"),
	OK("empty value", "GET /" H11 "X-Empty:\r\n\r\n"),
	OK("HTAB in value", "GET /" H11 "X-Tab: a\tb\r\n\r\n"),
	OK("obs-text in value", "GET /" H11 "X-Utf8: caf\xc3\xa9\r\n\r\n"),
	OK("token chars in name", "GET /" H11 "!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n"),
	OK("lower-case method token", "get /" H11 "\r\n"),
	OK("extension method", "PURGE /" H11 "\r\n"),
	OK("Content-Length", "POST /" H11 "Content-Length: 10\r\n\r\n"),
	OK("Content-Length zero", "POST /" H11 "Content-Length: 0\r\n\r\n"),
	OK("Content-Length leading zeros", "POST /" H11 "Content-Length: 007\r\n\r\n"),
	OK("Content-Length equal repeats", "POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"),
	OK("Content-Length equal list", "POST /" H11 "Content-Length: 5, 5,5\r\n\r\n"),
	OK("Content-Length max", "POST /" H11 "Content-Length: 18446744073709551615\r\n\r\n"),
	OK("chunked", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"),
	OK("chunked any case, OWS", "POST /" H11 "transfer-encoding:  ChUnKeD \r\n\r\n"),
	OK("Connection close", "GET /" H11 "Connection: close\r\n\r\n"),
	OK("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	OK("Expect 100-continue", "PUT /" H11 "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
	OK("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	OK("absolute-form", "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
	OK("absolute-form https root", "GET HTTPS://example.com/ HTTP/1.1\r\nHost: e\r\n\r\n"),
	OK("HTTP/1.9 is 1.x", "GET / HTTP/1.9\r\nHost: a\r\n\r\n"),
	OK("IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
	OK("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	OK("target with sub-delims", "GET /a;b=c/d!$&'()*+,=:@%20~ HTTP/1.1\r\nHost: a\r\n\r\n"),

	/* ---- request line ---- */
	BAD("empty line twice before request", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("leading bare CR", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("method with separator", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BADL("method with NUL", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("no method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("no version", "GET /\r\nHost: a\r\n\r\n", 400),
	BAD("no target", "GET\r\n\r\n", 400),
	BAD("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
	BAD("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("fragment in target", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("asterisk not OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("authority-form", "CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("other scheme", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("absolute-form without path", "GET https://example.com HTTP/1.1\r\nHost: e\r\n\r\n", 400),
	BAD("absolute-form query without path", "GET http://e?q HTTP/1.1\r\nHost: e\r\n\r\n", 400),
	BAD("absolute-form no authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("absolute-form userinfo", "GET http://u:p@a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("absolute-form bad host", "GET http://a\"b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("version lower case", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("version two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
	BAD("version short", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
	BAD("version letter", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
	BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
	BAD("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
	BAD("HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", 505),
	BAD("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
	BAD("bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),

	/* ---- field lines ---- */
	BAD("obs-fold", "GET /" H11 "X-A: a\r\n b\r\n\r\n", 400),
	BAD("obs-fold tab", "GET /" H11 "X-A: a\r\n\tb\r\n\r\n", 400),
	BAD("whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	BAD("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	BAD("tab before colon", "GET /" H11 "X-A\t: a\r\n\r\n", 400),
	BAD("empty name", "GET /" H11 ": a\r\n\r\n", 400),
	BAD("separator in name", "GET /" H11 "X(A): a\r\n\r\n", 400),
	BAD("no colon", "GET /" H11 "X-A a\r\n\r\n", 400),
	BADL("NUL in value", "GET /" H11 "X-A: a\0b\r\n\r\n", 400),
	BADL("NUL in name", "GET /" H11 "X\0A: ab\r\n\r\n", 400),
	BAD("control char in value", "GET /" H11 "X-A: a\x01" "b\r\n\r\n", 400),
	BAD("escape char in value", "GET /" H11 "X-A: a\x1b[0m\r\n\r\n", 400),
	BAD("DEL in value", "GET /" H11 "X-A: a\x7f\r\n\r\n", 400),
	BAD("bare CR in value", "GET /" H11 "X-A: a\rb\r\n\r\n", 400),
	BAD("bare LF ends field", "GET /" H11 "X-A: a\nX-B: b\r\n\r\n", 400),
	BAD("bare LF ends head", "GET /" H11 "X-A: a\r\n\n", 400),
	BAD("bare CR ends head", "GET /" H11 "X-A: a\r\n\rX", 400),
	BAD("CR CR LF", "GET /" H11 "X-A: a\r\r\n\r\n", 400),

	/* ---- framing (request smuggling shapes) ---- */
	BAD("CL then TE", "POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	BAD("TE then CL", "POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
	BAD("CL differing fields", "POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	BAD("CL differing list", "POST /" H11 "Content-Length: 5, 6\r\n\r\n", 400),
	BAD("CL empty", "POST /" H11 "Content-Length:\r\n\r\n", 400),
	BAD("CL empty element", "POST /" H11 "Content-Length: 5,,5\r\n\r\n", 400),
	BAD("CL trailing comma", "POST /" H11 "Content-Length: 5,\r\n\r\n", 400),
	BAD("CL plus sign", "POST /" H11 "Content-Length: +5\r\n\r\n", 400),
	BAD("CL negative", "POST /" H11 "Content-Length: -1\r\n\r\n", 400),
	BAD("CL hex", "POST /" H11 "Content-Length: 0x5\r\n\r\n", 400),
	BAD("CL inner space", "POST /" H11 "Content-Length: 5 5\r\n\r\n", 400),
	BAD("CL letters", "POST /" H11 "Content-Length: 5a\r\n\r\n", 400),
	BAD("CL overflow", "POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
	BAD("CL huge", "POST /" H11 "Content-Length: 99999999999999999999999\r\n\r\n", 400),
	BAD("TE gzip, chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
	BAD("TE chunked, gzip", "POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 501),
	BAD("TE identity", "POST /" H11 "Transfer-Encoding: identity\r\n\r\n", 501),
	BAD("TE chunked twice", "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	BAD("TE chunked list twice", "POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 501),
	BAD("TE with parameter", "POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", 501),
	BAD("TE near miss", "POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n", 501),
	BAD("TE empty", "POST /" H11 "Transfer-Encoding:\r\n\r\n", 501),
	BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	BAD("TE with space before colon", "POST /" H11 "Transfer-Encoding : chunked\r\n\r\n", 400),
	BAD("TE obs-fold", "POST /" H11 "Transfer-Encoding: chunked\r\n , identity\r\n\r\n", 400),
	BAD("TE empty then obs-fold", "POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n", 501),
	BAD("TE vertical tab", "POST /" H11 "Transfer-Encoding:\x0b" "chunked\r\n\r\n", 400),

	/* ---- Host ---- */
	BAD("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400),
	BAD("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
	BAD("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
	BAD("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
	BAD("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
};

#define N_REQ_CASES (sizeof req_cases / sizeof req_cases[0])

struct chunk_case {
	const char *name;
	const char *in;
	size_t      len;        /* 0: strlen(in) */
	int         ret;        /* 1 done, -1 malformed */
	const char *body;       /* decoded body when done */
	int         consumed;   /* when done: bytes consumed, -1 all */
	int         status;     /* when malformed */
};

#define CH_OK(n, s, b)          { n, s, 0, 1, b, -1, 0 }
#define CH_OKN(n, s, b, c)      { n, s, 0, 1, b, c, 0 }
#define CH_BAD(n, s, st)        { n, s, 0, -1, NULL, 0, st }
#define CH_BADL(n, s, st)       { n, s, sizeof(s) - 1, -1, NULL, 0, st }

static const struct chunk_case chunk_cases[] = {
	CH_OK("empty body", "0\r\n\r\n", ""),
	CH_OK("one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"),
	CH_OK("two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
	CH_OK("hex upper", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
	CH_OK("hex lower", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
	CH_OK("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"),
	CH_OK("16 hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello"),
	CH_OK("extension", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
	CH_OK("quoted extension", "5;n=\"a b;c\"\r\nhello\r\n0\r\n\r\n", "hello"),
	CH_OK("BWS before extension", "5 \t;n\r\nhello\r\n0\r\n\r\n", "hello"),
	CH_OK("CRLF in data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"),
	CH_OK("trailers", "5\r\nhello\r\n0\r\nX-T: v\r\nY:\r\n\r\n", "hello"),
	CH_OKN("pipelined bytes stay", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello", 15),

	CH_BAD("no size", "\r\n", 400),
	CH_BAD("size not hex", "g\r\n", 400),
	CH_BAD("negative size", "-5\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("plus sign", "+5\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("size overflow", "10000000000000000\r\n", 400),
	CH_BAD("bare LF after size", "5\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("bare CR after size", "5\rhello\r\n0\r\n\r\n", 400),
	CH_BAD("whitespace, no extension", "5 \r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("garbage after size", "5x\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("bare LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("control char in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", 400),
	CH_BADL("NUL in extension", "5;a\0\r\nhello\r\n0\r\n\r\n", 400),
	CH_BAD("data too long", "5\r\nhelloX\r\n0\r\n\r\n", 400),
	CH_BAD("data too short", "5\r\nhell\r\n0\r\n\r\n", 400),
	CH_BAD("bare LF after data", "5\r\nhello\n0\r\n\r\n", 400),
	CH_BAD("bare CR after data", "5\r\nhello\r0\r\n\r\n", 400),
	CH_BAD("bare LF at end", "0\r\n\n", 400),
	CH_BAD("bare CR at end", "0\r\n\rX", 400),
	CH_BAD("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", 400),
	CH_BAD("trailer space before colon", "0\r\nX : a\r\n\r\n", 400),
	CH_BAD("trailer no colon", "0\r\nX\r\n\r\n", 400),
	CH_BAD("trailer control char", "0\r\nX: a\x02\r\n\r\n", 400),
	CH_BAD("trailer bare LF", "0\r\nX: a\n\r\n", 400),
	CH_BAD("trailer bare CR", "0\r\nX: a\rb\r\n\r\n", 400),
	CH_BAD("trailer empty name", "0\r\n: a\r\n\r\n", 400),
	CH_BAD("last chunk without CRLF", "0\r\nGET / HTTP/1.1\r\n", 400),
};

#define N_CHUNK_CASES (sizeof chunk_cases / sizeof chunk_cases[0])

#endif
