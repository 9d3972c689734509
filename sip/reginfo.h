/*
 * sip/reginfo.h: the registration event package's document (RFC 3680
 * section 5, application/reginfo+xml), built from plain structs into a
 * struct sip_buf. Pure: no database, no clock, no process.
 *
 * What a document looks like (one per NOTIFY body; line breaks and tabs as
 * printed, attributes in this order, optional ones left out when unset):
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
 *   	<registration aor="sip:user@example.com" id="a1b2c3d4" state="active">
 *   		<contact id="17" state="active" event="registered"
 *   		 expires="3599" q="0.5" callid="abc@1.2.3.4" cseq="7"
 *   		 duration-registered="1">        (one line when printed)
 *   			<uri>sip:user@192.0.2.7:5060</uri>
 *   			<unknown-param
 * name="+sip.instance">&lt;urn:gsma:imei:86539405-000273-0&gt;</unknown-param>
 *   			<unknown-param name="audio"></unknown-param>
 *   		</contact>
 *   	</registration>
 *   </reginfo>
 *
 * A registration without contacts is printed as an empty element
 * (<registration ... state="init"/>), as RFC 3680's NOTIFY (3) shows.
 *
 * unknown-param: one for each Contact parameter the UE registered except
 * expires and q (RFC 3680 5.1: "unknown-param" carries the contact's
 * feature parameters; TS 24.229 5.4.2.1.2 lists +sip.instance,
 * +g.3gpp.icsi-ref, ...). The value is the parameter's value with its
 * double quotes removed and quoted-pair escapes undone, so
 * +sip.instance="<urn:gsma:imei:...>" becomes &lt;urn:gsma:imei:...&gt; in
 * the XML; a parameter without a value gets an empty element. (Kamailio's
 * ims_registrar_scscf keeps the quotes inside the element; the unquoted
 * form is what TS 24.229 phones parse and what RFC 3680's examples do for
 * attribute values.)
 *
 * Escaping: every attribute value and element text goes through
 * reginfo_escape(): & < > " ' become entities; TAB, LF, CR become &#9;
 * &#10; &#13; (so that attribute-value normalisation cannot change them).
 * Other control octets (0x00-0x1F) cannot appear in XML 1.0 at all, not
 * even as character references, and malformed UTF-8 cannot either: such a
 * field makes reginfo_print() fail with -1 rather than send a document the
 * watcher cannot parse (the registrar refuses control octets in Contact
 * parameters already, so this is a last line of defence).
 */
#ifndef AFD_SIP_REGINFO_H
#define AFD_SIP_REGINFO_H

#include <stddef.h>
#include <stdint.h>

#include <talloc.h>

#include "sip/sip.h"

#define REGINFO_CONTENT_TYPE "application/reginfo+xml"

/* <reginfo state=...> */
enum reginfo_doc_state { REGINFO_FULL, REGINFO_PARTIAL };

/* <registration state=...> */
enum reginfo_reg_state {
	REGINFO_REG_INIT,      /* no contact yet (or none left to report) */
	REGINFO_REG_ACTIVE,    /* at least one active contact */
	REGINFO_REG_TERMINATED /* the last contact went away */
};

/* <contact state=...> */
enum reginfo_ct_state { REGINFO_CT_ACTIVE, REGINFO_CT_TERMINATED };

/* <contact event=...> (RFC 3680 5.1; the state each one goes with:
 * registered, created, refreshed, shortened: active; expired, deactivated,
 * probation, unregistered, rejected: terminated). */
enum reginfo_event {
	REGINFO_EV_REGISTERED,
	REGINFO_EV_CREATED,
	REGINFO_EV_REFRESHED,
	REGINFO_EV_SHORTENED,
	REGINFO_EV_EXPIRED,
	REGINFO_EV_DEACTIVATED,
	REGINFO_EV_PROBATION,
	REGINFO_EV_UNREGISTERED,
	REGINFO_EV_REJECTED,
	REGINFO_EV__COUNT
};

/* The XML word of each value ("full", "init", "terminated", "shortened");
 * NULL for a value out of range. */
const char *reginfo_doc_state_name(enum reginfo_doc_state s);
const char *reginfo_reg_state_name(enum reginfo_reg_state s);
const char *reginfo_ct_state_name(enum reginfo_ct_state s);
const char *reginfo_event_name(enum reginfo_event e);
/* The event of a word ("expired"), or -1. */
int reginfo_event_parse(const char *word);
/* The contact state an event goes with (see enum reginfo_event). */
enum reginfo_ct_state reginfo_event_state(enum reginfo_event e);

/* One <unknown-param name="name">value</unknown-param>; value NULL (a
 * parameter without '='): an empty element. Both unescaped text. */
struct reginfo_param {
	const char *name;
	const char *value;
};

/* One <contact>. Strings are NUL-terminated, unescaped; NULL leaves an
 * optional attribute out. Numbers below 0 leave theirs out. */
struct reginfo_contact {
	const char *id; /* required: stable across NOTIFYs (use
	                   reginfo_contact_id()) */
	enum reginfo_ct_state state;
	enum reginfo_event event;
	int64_t expires; /* seconds left; -1: omit */
	double q;        /* printed when has_q, as "0.5", "1" */
	int has_q;
	const char *callid;       /* the REGISTER's Call-ID; NULL: omit */
	int64_t cseq;             /* the REGISTER's CSeq; -1: omit */
	int64_t duration;         /* duration-registered, seconds; -1: omit */
	int64_t retry_after;      /* retry-after; -1: omit */
	const char *uri;          /* required: the contact URI */
	const char *display_name; /* NULL: omit */
	const struct reginfo_param *params;
	int nparams;
};

/* One <registration>. */
struct reginfo_registration {
	const char *aor; /* required: the public identity */
	const char *id;  /* required: stable (use reginfo_aor_id()) */
	enum reginfo_reg_state state;
	const struct reginfo_contact *contacts;
	int ncontacts;
};

/* One document. */
struct reginfo_doc {
	uint64_t version; /* RFC 3680 5.2: 0 in the first NOTIFY of a
	                     subscription, one more in each later one */
	enum reginfo_doc_state state;
	const struct reginfo_registration *regs;
	int nregs;
};

/*
 * Append the whole document d to b (XML declaration included, ending in a
 * newline). Returns 0, or -1 when a required field is NULL, an enum is out
 * of range, a field holds a control octet other than TAB/LF/CR or
 * malformed UTF-8, or b ran out of memory (b->oom). On -1, b may hold a
 * partial document: the caller drops it.
 */
int reginfo_print(struct sip_buf *b, const struct reginfo_doc *d);

/* Append s (n bytes) to b as XML text or attribute value (see the top of
 * this file). 0, or -1 for an octet XML cannot carry (nothing appended
 * after it). */
int reginfo_escape(struct sip_buf *b, const char *s, size_t n);

/*
 * Split a Contact's stored parameters (registrations.params: "name=value;
 * name;..." as the UE sent them, without expires and q) into an array of
 * reginfo_param under ctx, values unquoted (outer double quotes dropped,
 * \x quoted-pairs undone). Empty names are skipped. Returns 0 with *out
 * and *n (NULL, 0 when none), or -1 (out of memory, or an unterminated
 * quoted string).
 */
int reginfo_params_split(TALLOC_CTX *ctx, const char *params,
                         struct reginfo_param **out, int *n);

/* A registration id that stays the same for an AOR across NOTIFYs and
 * restarts: "a" and the 32-bit FNV-1a hash of the AOR in hex (9 bytes and
 * the NUL in out). */
void reginfo_aor_id(char out[16], const char *aor);

/* A contact id from the binding's row id: "c" and the number. */
void reginfo_contact_id(char out[24], int64_t row_id);

#endif
