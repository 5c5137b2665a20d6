/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfsraw.c - a raw NFSv3 client for the isolation tests: it sends file
 * handles as the bytes it is given, the way a hostile worker (root on its
 * own export) can, from the source address it is told, because the
 * client's address decides which export it may use.
 *
 *   nfsraw [-b SRCADDR] [-u UID] [-g GID] [-n NFSPORT] [-m MNTPORT]
 *          [-t SECONDS] SERVER
 *
 * ONC RPC over TCP is written here (nfsraw_rpc.c: record marking,
 * AUTH_SYS, the XDR of the few calls below): libnfs binds an interface,
 * not a source address.
 * The source port is a reserved one (1023 down) when allowed, as a kernel
 * client's.  NFS and MOUNT are at fixed ports (-n, -m: 2049, 20048), as
 * lib-boot.sh configures NFS-Ganesha.  Reads one command per line on
 * stdin and answers each with exactly one line on stdout: "ok ..." or
 * "err WHY", WHY being NFS3ERR_*, MNT3ERR_*, RPC_* (the server refused the
 * call: RPC_AUTH_TOOWEAK, ...) or "rpc transport: ..." (no answer at all:
 * nothing was refused).  FH is a handle in hex; names and data are printed
 * with \xNN for anything but printable ASCII (and for \, comma, space).
 *
 *   mount PATH               MOUNT3 MNT: "ok FH"
 *   getattr FH               "ok type=T mode=0OOO nlink=N uid=N size=N
 *                            fsid=N fileid=N"
 *   lookup FH A[/B...]       one LOOKUP per component (".." too): "ok FH
 *                            type=T fileid=N" ("?" without attributes)
 *   read FH OFFSET COUNT     "ok N eof=B DATA"  (COUNT 1..65536)
 *   write FH OFFSET TEXT     FILE_SYNC: "ok N"
 *   create FH NAME           UNCHECKED, mode 0644: "ok FH" ("ok -" when no
 *                            handle comes back)
 *   readdir FH               READDIR to the end (at most 64 replies):
 *                            "ok name,name,..." without . and ..
 *   probe FH TAG [NAME...]   everything a worker would try with a handle,
 *                            in one line: "ok TAG type=dir fileid=N
 *                            names=a,b lookup:NAME=fileid|ERR...
 *                            create=ok|ERR" for a directory (creates TAG
 *                            in it), "ok TAG type=reg fileid=N size=N
 *                            write=ok|ERR data=DATA" for a file (the first
 *                            4096 bytes, read before TAG is appended to
 *                            it), "ok TAG type=T fileid=N" for others,
 *                            "err TAG WHY" if GETATTR fails
 *   climb FH N TAG [C]       LOOKUP ".." N times (1..16): "ok TAG
 *                            1:fileid=N:names=a,b:create=ok|ERR 2:..."; a
 *                            CREATE of TAG-<level> in the first C levels
 *                            only (default none)
 *   quit
 *
 * and, without the network, handle surgery on NFS-Ganesha's handles:
 *
 *   fhinfo FH [FILEID]       where the FUSE handle is: "ok exportid=N
 *                            fslen=N fsidtype=N fsid=HEX ktype=0xNN koff=N
 *                            klen=N node=0xN gen=N by=layout|fileid
 *                            [fileid=node|other]"; koff is the offset of
 *                            the kernel's handle in FH
 *   splice HDRFH OBJFH       HDRFH's header (export id, fsid, handle type)
 *                            with OBJFH's kernel handle: "ok FH"
 *   kset FH POS HEX          the kernel handle's bytes from POS replaced
 *   kput FH KTYPE HEX        the kernel handle replaced by HEX, of type
 *                            KTYPE (hex); fs_len and padding follow
 *
 * NFS-Ganesha's NFSv3 handle (src/include/nfs_fh.h, FSAL_VFS/os/linux/
 * handle_syscalls.c): fhversion (0x43), fhflags1, export id (big-endian
 * u16), fs_len, then fs_len bytes of the FSAL VFS handle: a flags byte
 * (fsid type in the low 5 bits, 0x40/0x80/0xc0 = the kernel's handle type
 * in 1/2/4 bytes, 0x20 = dummy), the fsid (0, 8 or 16 bytes by type), the
 * kernel's handle type, then the kernel's file handle (name_to_handle_at);
 * the whole zero-padded to a multiple of 4.  FUSE's kernel handle
 * (fs/fuse/inode.c: type 0x81, or 0x82 with the parent's after it) is
 * three host-endian u32: node id >> 32, node id & 0xffffffff,
 * generation.  fhinfo finds it by that layout; a handle that does not
 * parse so is searched for FILEID's two u32 (pifs's st_ino is its node
 * id): koff is where they stand ("by=fileid").
 *
 * Every call is bounded (-t, default 10 s); a broken connection is
 * reported and opened again for the next command.  Exit 0 at quit or end
 * of input, 2 for usage.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfsraw.h"

struct nfsraw g = {
    .uid = 0, .gid = 0, .timeout = 10, .nfs = {-1, 2049}, .mnt = {-1, 20048}};

/* ---- printing ---- */

static const char *nfs3_err(uint32_t s)
{
	static const struct {
		uint32_t code;
		const char *name;
	} e[] = {
	    {1, "PERM"},	  {2, "NOENT"},		  {5, "IO"},
	    {6, "NXIO"},	  {13, "ACCES"},	  {17, "EXIST"},
	    {18, "XDEV"},	  {19, "NODEV"},	  {20, "NOTDIR"},
	    {21, "ISDIR"},	  {22, "INVAL"},	  {27, "FBIG"},
	    {28, "NOSPC"},	  {30, "ROFS"},		  {63, "NAMETOOLONG"},
	    {66, "NOTEMPTY"},	  {70, "STALE"},	  {71, "REMOTE"},
	    {10001, "BADHANDLE"}, {10003, "BAD_COOKIE"},  {10004, "NOTSUPP"},
	    {10005, "TOOSMALL"},  {10006, "SERVERFAULT"}, {10007, "BADTYPE"},
	    {10008, "JUKEBOX"},
	};
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(e) / sizeof(e[0]) && e[i].code != s; i++)
		;
	if (i < sizeof(e) / sizeof(e[0]))
		snprintf(buf, sizeof(buf), "NFS3ERR_%s", e[i].name);
	else
		snprintf(buf, sizeof(buf), "NFS3ERR_%u", s);
	return buf;
}

static const char *type_name(uint32_t t)
{
	static const char *n[] = {"?",	 "reg", "dir",	"blk",
				  "chr", "lnk", "sock", "fifo"};

	return t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

/* An error word for the last call: its NFS status or g.rpcerr. */
static const char *why(uint32_t status)
{
	return g.rpcerr[0] ? g.rpcerr : nfs3_err(status);
}

void print_esc(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] > ' ' && p[i] < 127 && p[i] != '\\' && p[i] != ',')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

static void print_fh(const struct fh *fh)
{
	uint32_t i;

	for (i = 0; i < fh->len; i++)
		printf("%02x", fh->b[i]);
}

static int parse_fh(const char *s, struct fh *fh)
{
	size_t n = s ? strlen(s) : 0, i;
	unsigned v;

	if (n == 0 || n % 2 || n / 2 > FH_MAX)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		fh->b[i] = (uint8_t)v;
	}
	fh->len = (uint32_t)(n / 2);
	return 0;
}

/* ---- commands ---- */

static char *next_word(char **s)
{
	return strtok_r(NULL, " ", s);
}

static void cmd_mount(char *path)
{
	struct xdr x = {.buf = argbuf}, r = {.buf = resbuf};
	const uint8_t *p;
	struct fh fh;
	uint32_t st, n;

	put_opaque(&x, path, strlen(path));
	st = call(&g.mnt, PROG_MOUNT, MNT3_MNT, &x, &r);
	if (st == UINT32_MAX) {
		printf("err %s\n", g.rpcerr);
		return;
	}
	if (st != 0) {
		printf("err MNT3ERR_%s\n", st == 13  ? "ACCES"
					   : st == 2 ? "NOENT"
					   : st == 1 ? "PERM"
						     : "OTHER");
		return;
	}
	p = get_opaque(&r, &n, FH_MAX);
	if (!p) {
		puts("err rpc transport: bad MNT reply");
		return;
	}
	memcpy(fh.b, p, n);
	fh.len = n;
	fputs("ok ", stdout);
	print_fh(&fh);
	putchar('\n');
}

static void cmd_getattr(struct fh *fh)
{
	struct fattr a;
	uint32_t st = do_getattr(fh, &a);

	if (st != 0) {
		printf("err %s\n", why(st));
		return;
	}
	printf("ok type=%s mode=0%o nlink=%u uid=%u size=%" PRIu64
	       " fsid=%" PRIu64 " fileid=%" PRIu64 "\n",
	       type_name(a.type), a.mode & 07777, a.nlink, a.uid, a.size,
	       a.fsid, a.fileid);
}

/* lookup FH A/B/C: one LOOKUP per component, from FH. */
static void cmd_lookup(struct fh *dir, char *path)
{
	struct fattr a;
	struct fh out = *dir;
	char *save, *name;
	int has = 0;
	uint32_t st = 22;

	for (name = strtok_r(path, "/", &save); name;
	     name = strtok_r(NULL, "/", &save)) {
		*dir = out;
		st = do_lookup(dir, name, &out, &a, &has);
		if (st != 0)
			break;
	}
	if (st != 0) {
		printf("err %s\n", why(st));
		return;
	}
	fputs("ok ", stdout);
	print_fh(&out);
	if (has)
		printf(" type=%s fileid=%" PRIu64 "\n", type_name(a.type),
		       a.fileid);
	else
		puts(" type=? fileid=?");
}

static void cmd_read(struct fh *fh, const char *off, const char *cnt)
{
	static uint8_t data[READ_MAX];
	uint32_t n = 0, eof = 0, count, st;

	count = cnt ? (uint32_t)strtoul(cnt, NULL, 10) : 0;
	if (!off || !count || count > READ_MAX) {
		puts("err usage: read FH OFFSET COUNT (COUNT 1..65536)");
		return;
	}
	st = do_read(fh, strtoull(off, NULL, 10), count, data, &n, &eof);
	if (st != 0) {
		printf("err %s\n", why(st));
		return;
	}
	printf("ok %u eof=%u ", n, eof);
	print_esc(stdout, data, n);
	putchar('\n');
}

static void cmd_write(struct fh *fh, const char *off, const char *text)
{
	uint32_t n = 0, st;

	if (!off || !text) {
		puts("err usage: write FH OFFSET TEXT");
		return;
	}
	st = do_write(fh, strtoull(off, NULL, 10), text, &n);
	if (st != 0)
		printf("err %s\n", why(st));
	else
		printf("ok %u\n", n);
}

static void cmd_create(struct fh *dir, const char *name)
{
	struct fh out;
	uint32_t st;

	if (!name) {
		puts("err usage: create FH NAME");
		return;
	}
	st = do_create(dir, name, &out);
	if (st != 0) {
		printf("err %s\n", why(st));
		return;
	}
	fputs("ok ", stdout);
	if (out.len)
		print_fh(&out);
	else
		putchar('-');
	putchar('\n');
}

static void cmd_readdir(struct fh *dir)
{
	char *names = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&names, &len);
	uint32_t st;

	if (!m) {
		puts("err out of memory");
		return;
	}
	st = do_readdir(dir, m);
	fclose(m);
	if (st != 0)
		printf("err %s\n", why(st));
	else
		printf("ok %s\n", names);
	free(names);
}

static void cmd_probe(struct fh *fh, const char *tag, char **rest)
{
	static uint8_t data[PROBE_READ];
	struct fattr a, la;
	struct fh out;
	uint32_t st, wst, w, n = 0, eof;
	const char *name;
	char line[96];
	int has;

	if (!tag) {
		puts("err usage: probe FH TAG [NAME...]");
		return;
	}
	st = do_getattr(fh, &a);
	if (st != 0) {
		printf("err %s %s\n", tag, why(st));
		return;
	}
	printf("ok %s type=%s fileid=%" PRIu64, tag, type_name(a.type),
	       a.fileid);
	if (a.type == 2) {
		fputs(" names=", stdout);
		st = do_readdir(fh, stdout);
		if (st != 0)
			printf("ERR:%s", why(st));
		while ((name = next_word(rest))) {
			st = do_lookup(fh, name, &out, &la, &has);
			printf(" lookup:%s=", name);
			if (st != 0)
				fputs(why(st), stdout);
			else if (has)
				printf("%" PRIu64, la.fileid);
			else
				fputs("?", stdout);
		}
		st = do_create(fh, tag, &out);
		printf(" create=%s", st ? why(st) : "ok");
	} else if (a.type == 1) {
		printf(" size=%" PRIu64, a.size);
		st = do_read(fh, 0, PROBE_READ, data, &n, &eof);
		/* then append the tag: data shows the file as it was */
		snprintf(line, sizeof(line), "%s\n", tag);
		wst = do_write(fh, a.size, line, &w);
		printf(" write=%s", wst ? why(wst) : "ok");
		if (st != 0) {
			printf(" data=ERR:%s", why(st));
		} else {
			fputs(" data=", stdout);
			print_esc(stdout, data, n);
		}
	}
	putchar('\n');
}

/* Ganesha's FSAL VFS layout (see the top): where the fsid, the kernel
 * handle type and the kernel handle are in fh; -1 if fh does not parse
 * as such a handle with room for FUSE's 12 bytes. */
struct layout {
	uint32_t fsid_off, fsid_len; /* the fsid */
	uint32_t tpos, tlen, ktype;  /* the kernel's handle type */
	uint32_t koff, klen;	     /* the kernel's handle */
};

static int ganesha_layout(const struct fh *fh, struct layout *l)
{
	/* Ganesha's sizeof_fsid() by enum fsid_type */
	static const uint32_t fsid_len[] = {0, 8, 8, 16, 8, 8};
	uint32_t end, flags, i;

	if (fh->len < 6 || 5u + fh->b[4] > fh->len)
		return -1;
	end = 5u + fh->b[4];
	flags = fh->b[5];
	if ((flags & 0x1f) > 5 || (flags & 0x20))
		return -1;
	switch (flags & 0xc0) {
	case 0x40:
		l->tlen = 1;
		break;
	case 0x80:
		l->tlen = 2;
		break;
	case 0xc0:
		l->tlen = 4;
		break;
	default:
		return -1;
	}
	l->fsid_off = 6;
	l->fsid_len = fsid_len[flags & 0x1f];
	l->tpos = l->fsid_off + l->fsid_len;
	l->ktype = 0;
	for (i = 0; i < l->tlen; i++) /* host-endian (x86 or arm: LE) */
		l->ktype |= (uint32_t)fh->b[l->tpos + i] << (8 * i);
	l->koff = l->tpos + l->tlen;
	if (l->koff + 12 > end)
		return -1;
	l->klen = end - l->koff;
	return 0;
}

static int layout_or_err(const struct fh *fh, struct layout *l)
{
	if (ganesha_layout(fh, l) == 0)
		return 0;
	puts("err not an NFS-Ganesha FSAL VFS handle");
	return -1;
}

/* fh with its kernel handle replaced by k (klen bytes; type ktype if not
 * UINT32_MAX), fs_len fixed and zero-padded to 4 as Ganesha sends it. */
static int put_kernel(struct fh *fh, const struct layout *l, uint32_t ktype,
		      const uint8_t *k, uint32_t klen)
{
	uint32_t i, end = l->koff + klen;

	if (end > FH_MAX || end - 5 > 255)
		return -1;
	if (ktype != UINT32_MAX)
		for (i = 0; i < l->tlen; i++)
			fh->b[l->tpos + i] = (uint8_t)(ktype >> (8 * i));
	memmove(fh->b + l->koff, k, klen);
	fh->b[4] = (uint8_t)(end - 5);
	fh->len = (end + 3) & ~3u;
	if (fh->len > FH_MAX)
		fh->len = end;
	memset(fh->b + end, 0, fh->len - end);
	return 0;
}

static void print_ok_fh(const struct fh *fh)
{
	fputs("ok ", stdout);
	print_fh(fh);
	putchar('\n');
}

static void cmd_fhinfo(const struct fh *fh, const char *fileid_s)
{
	struct layout l = {0};
	uint32_t w[3], i;
	uint64_t node, fileid = fileid_s ? strtoull(fileid_s, NULL, 10) : 0;
	const char *by = "layout";

	if (ganesha_layout(fh, &l) < 0) {
		/* FUSE writes the node id as two host-endian u32, high
		 * first: look for the fileid so written */
		w[0] = (uint32_t)(fileid >> 32);
		w[1] = (uint32_t)fileid;
		for (i = 0; fileid_s && i + 12 <= fh->len; i++)
			if (!memcmp(fh->b + i, w, 8))
				break;
		if (!fileid_s || i + 12 > fh->len) {
			puts("err no FUSE handle found");
			return;
		}
		l.koff = i;
		l.klen = fh->len - i;
		by = "fileid";
	}
	memcpy(w, fh->b + l.koff, 12);
	node = (uint64_t)w[0] << 32 | w[1];
	printf("ok exportid=%u fslen=%u fsidtype=%u fsid=",
	       fh->b[2] << 8 | fh->b[3], fh->b[4], fh->b[5] & 0x1f);
	for (i = 0; i < l.fsid_len; i++)
		printf("%02x", fh->b[l.fsid_off + i]);
	printf(" ktype=0x%02x koff=%u klen=%u node=0x%016" PRIx64
	       " gen=%u by=%s",
	       l.ktype, l.koff, l.klen, node, w[2], by);
	if (fileid_s)
		printf(" fileid=%s", node == fileid ? "node" : "other");
	putchar('\n');
}

/* splice HDRFH OBJFH: HDRFH's header (export id, fsid, type) with
 * OBJFH's kernel handle. */
static void cmd_splice(struct fh *hdr, const char *obj_s)
{
	struct layout lh, lo;
	struct fh obj;

	if (parse_fh(obj_s, &obj) < 0) {
		puts("err usage: splice HDRFH OBJFH");
		return;
	}
	if (layout_or_err(hdr, &lh) < 0 || layout_or_err(&obj, &lo) < 0)
		return;
	if (put_kernel(hdr, &lh, lo.ktype, obj.b + lo.koff, lo.klen) < 0) {
		puts("err too long");
		return;
	}
	print_ok_fh(hdr);
}

/* kset FH POS HEX: the kernel handle's bytes from POS on replaced. */
static void cmd_kset(struct fh *fh, const char *pos_s, const char *hex)
{
	struct layout l;
	struct fh b;
	uint32_t pos = pos_s ? (uint32_t)strtoul(pos_s, NULL, 10) : 0;

	if (!pos_s || parse_fh(hex, &b) < 0) {
		puts("err usage: kset FH POS HEX");
		return;
	}
	if (layout_or_err(fh, &l) < 0)
		return;
	if (pos + b.len > l.klen) {
		puts("err past the kernel handle");
		return;
	}
	memcpy(fh->b + l.koff + pos, b.b, b.len);
	print_ok_fh(fh);
}

/* kput FH KTYPE HEX: the kernel handle replaced by HEX, of type KTYPE
 * (hex). */
static void cmd_kput(struct fh *fh, const char *type_s, const char *hex)
{
	struct layout l;
	struct fh k;

	if (!type_s || parse_fh(hex, &k) < 0) {
		puts("err usage: kput FH KTYPE HEX");
		return;
	}
	if (layout_or_err(fh, &l) < 0)
		return;
	if (put_kernel(fh, &l, (uint32_t)strtoul(type_s, NULL, 16), k.b,
		       k.len) < 0) {
		puts("err too long");
		return;
	}
	print_ok_fh(fh);
}

/* climb FH N TAG [C]: LOOKUP ".." N times from FH; at each level its
 * fileid, its names, and in the first C levels (default 0) a CREATE of
 * TAG-<level>.  C bounds how far up a create can land where ".." leaves
 * the export: never above what the caller knows is its own test's. */
static void cmd_climb(struct fh *fh, const char *n_s, const char *tag,
		      const char *c_s)
{
	struct fattr a;
	struct fh up;
	char name[96];
	uint32_t st;
	int has, i, n = n_s ? atoi(n_s) : 0, c = c_s ? atoi(c_s) : 0;

	if (n <= 0 || n > 16 || !tag) {
		puts("err usage: climb FH N TAG [C] (N 1..16)");
		return;
	}
	printf("ok %s", tag);
	for (i = 1; i <= n; i++) {
		st = do_lookup(fh, "..", &up, &a, &has);
		if (st != 0) {
			printf(" %d:%s", i, why(st));
			break;
		}
		*fh = up;
		st = do_getattr(fh, &a);
		if (st != 0) {
			printf(" %d:getattr=%s", i, why(st));
			break;
		}
		printf(" %d:fileid=%" PRIu64 ":names=", i, a.fileid);
		st = do_readdir(fh, stdout);
		if (st != 0)
			printf("ERR:%s", why(st));
		if (i > c)
			continue;
		snprintf(name, sizeof(name), "%s-%d", tag, i);
		st = do_create(fh, name, &up);
		printf(":create=%s", st ? why(st) : "ok");
	}
	putchar('\n');
}

static void run(char *line)
{
	char *save, *cmd = strtok_r(line, " ", &save), *a1, *rest;
	struct fh fh;

	if (!cmd) {
		puts("err empty command");
		return;
	}
	if (!strcmp(cmd, "mount")) {
		a1 = strtok_r(NULL, "", &save);
		if (a1)
			cmd_mount(a1);
		else
			puts("err usage: mount PATH");
		return;
	}
	a1 = next_word(&save);
	if (parse_fh(a1, &fh) < 0) {
		printf("err bad handle '%s'\n", a1 ? a1 : "");
		return;
	}
	if (!strcmp(cmd, "getattr")) {
		cmd_getattr(&fh);
	} else if (!strcmp(cmd, "lookup")) {
		rest = strtok_r(NULL, "", &save);
		if (rest)
			cmd_lookup(&fh, rest);
		else
			puts("err usage: lookup FH NAME");
	} else if (!strcmp(cmd, "read")) {
		a1 = next_word(&save);
		cmd_read(&fh, a1, next_word(&save));
	} else if (!strcmp(cmd, "write")) {
		a1 = next_word(&save);
		cmd_write(&fh, a1, strtok_r(NULL, "", &save));
	} else if (!strcmp(cmd, "create")) {
		cmd_create(&fh, strtok_r(NULL, "", &save));
	} else if (!strcmp(cmd, "readdir")) {
		cmd_readdir(&fh);
	} else if (!strcmp(cmd, "probe")) {
		a1 = next_word(&save);
		cmd_probe(&fh, a1, &save);
	} else if (!strcmp(cmd, "fhinfo")) {
		cmd_fhinfo(&fh, next_word(&save));
	} else if (!strcmp(cmd, "climb")) {
		a1 = next_word(&save);
		rest = next_word(&save);
		cmd_climb(&fh, a1, rest, next_word(&save));
	} else if (!strcmp(cmd, "splice")) {
		cmd_splice(&fh, next_word(&save));
	} else if (!strcmp(cmd, "kset")) {
		a1 = next_word(&save);
		cmd_kset(&fh, a1, next_word(&save));
	} else if (!strcmp(cmd, "kput")) {
		a1 = next_word(&save);
		cmd_kput(&fh, a1, next_word(&save));
	} else {
		printf("err unknown command '%s'\n", cmd);
	}
}

int main(int argc, char **argv)
{
	char line[4096];
	int c;

	while ((c = getopt(argc, argv, "b:u:g:n:m:t:")) != -1) {
		switch (c) {
		case 'b':
			g.src = optarg;
			break;
		case 'u':
			g.uid = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			g.gid = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			g.nfs.port = atoi(optarg);
			break;
		case 'm':
			g.mnt.port = atoi(optarg);
			break;
		case 't':
			g.timeout = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || g.timeout <= 0)
		goto usage;
	g.server = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "quit"))
			break;
		run(line);
	}
	conn_close(&g.nfs);
	conn_close(&g.mnt);
	return 0;
usage:
	fputs("usage: nfsraw [-b SRCADDR] [-u UID] [-g GID] [-n NFSPORT] "
	      "[-m MNTPORT] [-t SECONDS] SERVER  (commands on stdin)\n",
	      stderr);
	return 2;
}
