//! Fuzz targets of the core's parsers and decoders, one `#[test]` each
//! (docs/fuzzing.md): the form and query decoding, Stripe's requests and
//! replies, the BLE framing, protocol, BLE-over-TCP and both link ends, the
//! GATT advertisement, and the reader-profile and cards TOML. Nothing may
//! panic or hang, and what a decoder returns is bounded by what it was given.

mod fuzz_support;

use fuzz_support::{Target, join, run, split};
use readerlab_core::backend::ApiReply;
use readerlab_core::wire::ble::frame::{Frame, Kind, MAX_BODY, Reassembler, fragment};
use readerlab_core::wire::ble::gatt::{self, Advertisement};
use readerlab_core::wire::ble::link::{CentralLink, Inbound, PeripheralLink};
use readerlab_core::wire::ble::protocol::{Command, Reply};
use readerlab_core::wire::ble::tcp::{MAX_PAYLOAD, Pdu, PduDecoder};
use readerlab_core::wire::form::{FormValue, encode_form, parse_form};
use readerlab_core::wire::stripe::{decode_reply, decode_request, encode_request};
use readerlab_core::{Currency, EventBody, Money, ReaderModel, ReaderProfile, TestCards};

const SECRET: &str = "sk_test_fuzz";

/// Form syntax, for the mutations.
const FORM_TOKENS: &[&[u8]] = &[
    b"[]",
    b"[0]",
    b"[1]",
    b"[k]",
    b"%5B",
    b"%5D",
    b"+",
    b"%2B",
    b"amount",
    b"metadata",
    b"payment_method_data[card_present][number]",
    b"limit",
    b"starting_after",
    b"expand[]",
];

const FORMS: &[&[u8]] = &[
    b"amount=1000&currency=usd&capture_method=manual&payment_method_types[0]=card_present",
    b"amount=1099&currency=eur&description=a+b%21&metadata[order]=7&metadata[k]=",
    b"payment_method_data[type]=card_present&payment_method_data[card_present][number]=4242424242424242&payment_method_data[card_present][entry_mode]=chip&payment_method_data[card_present][pin]=correct",
    b"a=1&b[c]=2&list[]=x&list[1]=y&n[0][x]=1&n[0][y]=2&expand[]=charges",
    b"limit=3&starting_after=pi_123&ending_before=pi_9",
    b"display_name=Shop&address[line1]=1+Main+St&address[city]=Town&address[country]=US&address[postal_code]=12345",
    b"registration_code=simulated-wpe&location=tml_1&label=front",
    b"payment_intent=pi_1&process_config[skip_tipping]=true",
    b"name=cfg&offline[enabled]=true",
];

/// Text parts of a decoded form, in bytes: never more than the input had.
fn text_len(value: &FormValue) -> usize {
    match value {
        FormValue::Text(text) => text.len(),
        FormValue::Map(map) => map.iter().map(|(k, v)| k.len() + text_len(v)).sum(),
        FormValue::List(list) => list.iter().map(text_len).sum(),
    }
}

#[test]
fn fuzz_form_body() {
    let target = Target::new("fuzz_form_body").seeds(FORMS).tokens(FORM_TOKENS);
    run(bolero::check!(), target, |input| {
        let Ok(form) = parse_form(input) else { return };
        let decoded: usize = form.iter().map(|(k, v)| k.len() + text_len(v)).sum();
        assert!(decoded <= input.len(), "{decoded} bytes decoded from {}", input.len());
        // What parses, encoded as stripe-python would, reads back the same.
        let encoded = encode_form(&form);
        assert_eq!(parse_form(encoded.as_bytes()).as_ref(), Ok(&form), "re-encoded: {encoded}");
    });
}

/// GET paths that take a query string.
const LISTS: &[&str] = &[
    "/v1/payment_intents",
    "/v1/charges",
    "/v1/terminal/locations",
    "/v1/terminal/configurations",
    "/v1/terminal/readers",
    "/v1/payment_intents/pi_1",
];

#[test]
fn fuzz_query_string() {
    let seeds =
        [&b"\x00limit=3"[..], b"\x01limit=100&starting_after=ch_1", b"\x02ending_before=tml_2"]
            .into_iter()
            .map(<[u8]>::to_vec)
            .chain(FORMS.iter().map(|f| [&[3u8][..], f].concat()));
    let target = Target::new("fuzz_query_string").seeds(seeds).tokens(FORM_TOKENS);
    run(bolero::check!(), target, |input| {
        let Some((&which, query)) = input.split_first() else { return };
        let path = format!(
            "{}?{}",
            LISTS[usize::from(which) % LISTS.len()],
            String::from_utf8_lossy(query)
        );
        let auth = format!("Bearer {SECRET}");
        if let Ok(call) = decode_request("GET", &path, Some(&auth), None, b"", SECRET) {
            let again = encode_request(&call, SECRET);
            let back = decode_request("GET", &again.path_and_query, Some(&auth), None, b"", SECRET);
            assert_eq!(back.as_ref(), Ok(&call), "re-encoded: {}", again.path_and_query);
        }
    });
}

/// A Stripe request as [`split`] pieces: method, path, Authorization,
/// Idempotency-Key (empty: none), body.
fn request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let auth = format!("Bearer {SECRET}");
    join([method.as_bytes(), path.as_bytes(), auth.as_bytes(), b"key-1", body])
}

fn request_seeds() -> Vec<Vec<u8>> {
    let payment = br#"{"offline_id":"off_1","amount":{"amount":1000,"currency":"usd"}}"#;
    vec![
        request("POST", "/v1/payment_intents", FORMS[0]),
        request("POST", "/v1/payment_intents", FORMS[1]),
        request("POST", "/v1/payment_intents/pi_1/confirm", FORMS[2]),
        request("POST", "/v1/payment_intents/pi_1/capture", b""),
        request(
            "POST",
            "/v1/payment_intents/pi_1/cancel",
            b"cancellation_reason=requested_by_customer",
        ),
        request("GET", "/v1/payment_intents/pi_1", b""),
        request("GET", "/v1/charges?limit=2", b""),
        request("POST", "/v1/terminal/connection_tokens", b"location=tml_1"),
        request("POST", "/v1/terminal/locations", FORMS[5]),
        request("POST", "/v1/terminal/configurations/tmc_1", FORMS[8]),
        request("POST", "/v1/terminal/readers", FORMS[6]),
        request("DELETE", "/v1/terminal/readers/tmr_1", b""),
        request("POST", "/v1/terminal/readers/tmr_1/process_payment_intent", FORMS[7]),
        request(
            "POST",
            "/v1/test_helpers/terminal/readers/tmr_1/present_payment_method",
            b"card_present[number]=4242424242424242&type=card_present",
        ),
        request("POST", "/v1/readerlab/offline_payments", payment),
        join([
            &b"POST"[..],
            b"/v1/payment_intents/pi_1/confirm",
            b"Bearer pst_test_1",
            b"",
            FORMS[2],
        ]),
    ]
}

#[test]
fn fuzz_stripe_request() {
    let target = Target::new("fuzz_stripe_request").seeds(request_seeds()).tokens(FORM_TOKENS);
    run(bolero::check!(), target, |input| {
        let pieces = split(input);
        let text = |n: usize| pieces.get(n).map(|p| String::from_utf8_lossy(p).into_owned());
        let (method, path) = (text(0).unwrap_or_default(), text(1).unwrap_or_default());
        let (auth, key) = (text(2), text(3).filter(|k| !k.is_empty()));
        let body = pieces.get(4).copied().unwrap_or_default();
        let Ok(call) =
            decode_request(&method, &path, auth.as_deref(), key.as_deref(), body, SECRET)
        else {
            return;
        };
        // What decodes, sent again as the devices send it, decodes the same.
        let again = encode_request(&call, SECRET);
        let header = |name: &str| {
            again
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let back = decode_request(
            &again.method,
            &again.path_and_query,
            header("Authorization"),
            header("Idempotency-Key"),
            &again.body,
            SECRET,
        );
        assert_eq!(back.as_ref(), Ok(&call), "re-encoded: {again:?}");
    });
}

#[test]
fn fuzz_stripe_reply() {
    let seeds = [
        &b"\xc8\x00{\"id\":\"pi_1\",\"object\":\"payment_intent\",\"amount\":1000}"[..],
        b"\x92\x01{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\",\"decline_code\":\"insufficient_funds\",\"message\":\"no\",\"param\":\"amount\",\"payment_intent\":{\"id\":\"pi_1\"}}}",
        b"\xf4\x01{\"error\":{\"type\":\"api_error\"}}",
        b"\xad\x01",
    ];
    let target = Target::new("fuzz_stripe_reply").seeds(seeds);
    run(bolero::check!(), target, |input| {
        let [s0, s1, body @ ..] = input else { return };
        let status = u16::from_le_bytes([*s0, *s1]);
        match decode_reply(status, body) {
            ApiReply::Ok(_) => assert!((200..300).contains(&status)),
            ApiReply::Err(error) => {
                assert_eq!(error.status, status);
                assert!(error.message.len() <= body.len() + 100, "{}", error.message);
            }
        }
    });
}

fn command_seeds() -> Vec<Command> {
    let usd = Currency::USD;
    vec![
        Command::Connect { pos: "pos-1".into(), auto_reconnect: Some(true), fail_if_in_use: false },
        Command::Collect { payment: "pay_0001".into(), amount: Money::new(1000, usd) },
        Command::Confirm { payment: "pay_0001".into() },
        Command::Cancel { payment: "p".repeat(300) },
        Command::Reboot,
        Command::ConfirmPairing { accept: true },
    ]
}

fn frame_seeds() -> Vec<Frame> {
    let mut frames: Vec<Frame> = command_seeds()
        .iter()
        .enumerate()
        .map(|(seq, c)| Frame::request(seq as u16, c).expect("encodes"))
        .collect();
    let refused = Reply::Refused { message: "busy".into() };
    frames.push(Frame::response(7, &Reply::Accepted).expect("encodes"));
    frames.push(Frame::response(8, &refused).expect("encodes"));
    frames.push(Frame::event(0, &EventBody::PoweredOn).expect("encodes"));
    frames.push(Frame { kind: Kind::Event, seq: 9, body: vec![b'x'; 2000] });
    frames
}

/// Fragments of every seed frame at a few MTUs, as [`split`] pieces.
fn fragment_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for frame in frame_seeds() {
        for mtu in [23, 185, 517] {
            seeds.push(join(fragment(&frame, mtu).expect("fits")));
        }
    }
    seeds
}

#[test]
fn fuzz_ble_reassembler() {
    let target = Target::new("fuzz_ble_reassembler").seeds(fragment_seeds());
    run(bolero::check!(), target, |input| {
        let mut reassembler = Reassembler::new();
        for value in split(input) {
            if let Ok(Some(frame)) = reassembler.push(value) {
                assert!(
                    frame.body.len() <= MAX_BODY.min(input.len()),
                    "{} bytes",
                    frame.body.len()
                );
            }
        }
    });
}

#[test]
fn fuzz_ble_protocol() {
    let seeds = frame_seeds().into_iter().map(|f| [&[f.kind as u8][..], &f.body].concat());
    let tokens: &[&[u8]] = &[
        b"\"command\":",
        b"\"reply\":",
        b"\"event\":",
        b"null",
        b"true",
        b"{\"amount\":1,\"currency\":\"usd\"}",
    ];
    let target = Target::new("fuzz_ble_protocol").seeds(seeds).tokens(tokens);
    run(bolero::check!(), target, |input| {
        let Some((&kind, body)) = input.split_first() else { return };
        let kind = [Kind::Request, Kind::Response, Kind::Event][usize::from(kind) % 3];
        let frame = Frame { kind, seq: 1, body: body.to_vec() };
        // Each decoder on each kind; what decodes encodes and decodes again the same.
        if let Ok(command) = frame.decode_command() {
            let again = Frame::request(1, &command).expect("encodes");
            assert_eq!(again.decode_command(), Ok(command));
        }
        if let Ok(reply) = frame.decode_reply() {
            let again = Frame::response(1, &reply).expect("encodes");
            assert_eq!(again.decode_reply(), Ok(reply));
        }
        if let Ok(event) = frame.decode_event() {
            let again = Frame::event(1, &event).expect("encodes");
            assert_eq!(again.decode_event(), Ok(event));
        }
    });
}

#[test]
fn fuzz_ble_tcp() {
    let pdus = [
        Pdu::MtuExchange(185),
        Pdu::Write(vec![0x11, 0, 0, 0, 0, 2, 0, 0, 0, b'{', b'}']),
        Pdu::WriteAck,
        Pdu::Notification(vec![7; 300]),
        Pdu::ReadRequest(gatt::BATTERY_LEVEL_CHAR),
        Pdu::ReadResponse(vec![87]),
        Pdu::ReadNotFound,
        Pdu::Disconnect,
    ];
    let stream: Vec<u8> = pdus.iter().flat_map(|p| p.encode().expect("fits")).collect();
    // The whole stream in one chunk, in chunks of 7 bytes, and PDU by PDU.
    let seeds = [
        join([&stream]),
        join(stream.chunks(7)),
        join(pdus.iter().map(|p| p.encode().expect("fits"))),
    ];
    let target = Target::new("fuzz_ble_tcp").seeds(seeds);
    run(bolero::check!(), target, |input| {
        let mut decoder = PduDecoder::new();
        let mut consumed = Vec::new();
        let mut fed = Vec::new();
        'chunks: for chunk in split(input) {
            decoder.push(chunk);
            fed.extend_from_slice(chunk);
            loop {
                match decoder.next_pdu() {
                    Ok(Some(pdu)) => {
                        let bytes = pdu.encode().expect("a decoded PDU encodes");
                        assert!(bytes.len() <= 3 + MAX_PAYLOAD);
                        consumed.extend_from_slice(&bytes);
                    }
                    Ok(None) => break,
                    Err(_) => break 'chunks,
                }
            }
        }
        // What was decoded is exactly the start of the stream, byte for byte.
        assert!(fed.starts_with(&consumed), "decoded PDUs re-encode to other bytes");
    });
}

/// Link operations: each piece's first byte says what, the rest is the value.
#[test]
fn fuzz_ble_link() {
    let mut seeds = Vec::new();
    for frame in frame_seeds() {
        for mtu in [23, 185] {
            let fragments = fragment(&frame, mtu).expect("fits");
            seeds.push(join(fragments.iter().map(|f| [&[0u8][..], f].concat())));
            seeds.push(join(fragments.iter().map(|f| [&[1u8][..], f].concat())));
        }
    }
    let target = Target::new("fuzz_ble_link").seeds(seeds);
    run(bolero::check!(), target, |input| {
        let mut central = CentralLink::new(23);
        let mut peripheral = PeripheralLink::new(23);
        let commands = command_seeds();
        for piece in split(input) {
            let Some((&op, value)) = piece.split_first() else { continue };
            let arg = value.first().copied().unwrap_or(0);
            match op % 6 {
                0 => drop(peripheral.on_write(value)),
                1 => {
                    if let Ok(Some(Inbound::Event { missed, .. })) = central.on_notification(value)
                    {
                        assert!(missed < 0x8000);
                    }
                }
                2 => {
                    let mtu = u16::from_le_bytes([arg, value.get(1).copied().unwrap_or(0)]);
                    central.set_mtu(mtu);
                    peripheral.set_mtu(mtu);
                    assert!(central.mtu() >= gatt::DEFAULT_ATT_MTU);
                }
                3 => {
                    let command = commands[usize::from(arg) % commands.len()].clone();
                    if let Ok((_, values)) = central.send(command) {
                        let most = gatt::att_payload(central.mtu());
                        assert!(values.iter().all(|v| v.len() <= most));
                    }
                }
                4 => drop(peripheral.notify(&EventBody::PoweredOn)),
                _ => {
                    central.reset();
                    peripheral.reset();
                }
            }
        }
    });
}

#[test]
fn fuzz_ble_gatt() {
    let ad = Advertisement::of("m2", "STRM2-0001").expect("mobile");
    let target =
        Target::new("fuzz_ble_gatt").seeds([[&[0u8; 4][..], &ad.manufacturer_data].concat()]);
    run(bolero::check!(), target, |input| {
        let [a0, a1, b0, b1, data @ ..] = input else { return };
        let (ours, theirs) = (u16::from_le_bytes([*a0, *a1]), u16::from_le_bytes([*b0, *b1]));
        let mtu = gatt::negotiate_mtu(ours, theirs);
        assert!((gatt::DEFAULT_ATT_MTU..=gatt::MAX_ATT_MTU).contains(&mtu));
        assert!(gatt::att_payload(ours) <= usize::from(ours));
        if let Some((model, serial)) = Advertisement::parse_manufacturer_data(data) {
            let again = Advertisement::of(model, &serial).expect("a model read back is mobile");
            assert_eq!(again.manufacturer_data, data);
        }
    });
}

/// TOML syntax, for the mutations.
const TOML_TOKENS: &[&[u8]] = &[
    b"[[",
    b"]]",
    b"[battery]",
    b"[[card]]",
    b" = ",
    b"\"\"\"",
    b"'''",
    b"true",
    b"inf",
    b"nan",
    b"1979-05-27T07:32:00Z",
    b"{ a = 1 }",
    b"[1, 2]",
    b"#",
    b"\\u0000",
    b"a.b.c = 1",
];

const PROFILES: [(&str, &str); 5] = [
    ("m2", include_str!("../../../fixtures/readers/m2.toml")),
    ("wisepad3", include_str!("../../../fixtures/readers/wisepad3.toml")),
    ("chipper2x", include_str!("../../../fixtures/readers/chipper2x.toml")),
    ("s700", include_str!("../../../fixtures/readers/s700.toml")),
    ("wisepos_e", include_str!("../../../fixtures/readers/wisepos_e.toml")),
];

/// Lines in `text`, as an error may name them.
fn lines(text: &str) -> usize {
    text.split('\n').count()
}

#[test]
fn fuzz_reader_profile() {
    let seeds = PROFILES.iter().map(|(_, text)| text.as_bytes());
    let target = Target::new("fuzz_reader_profile").seeds(seeds).tokens(TOML_TOKENS);
    run(bolero::check!(), target, |input| {
        let text = String::from_utf8_lossy(input);
        match ReaderProfile::from_toml("fuzz.toml", &text) {
            Ok(profile) => {
                let expected = profile.model;
                assert!(ReaderProfile::from_toml_for("fuzz.toml", expected, &text).is_ok());
                let other = ReaderModel::ALL.into_iter().find(|m| *m != expected).expect("five");
                assert!(ReaderProfile::from_toml_for("fuzz.toml", other, &text).is_err());
            }
            Err(error) => {
                assert!(error.line.is_none_or(|l| (1..=lines(&text)).contains(&l)), "{error}");
            }
        }
    });
}

#[test]
fn fuzz_cards() {
    let cards = include_str!("../../../fixtures/cards.toml");
    let target = Target::new("fuzz_cards").seeds([cards]).tokens(TOML_TOKENS).max_len(64 * 1024);
    run(bolero::check!(), target, |input| {
        let text = String::from_utf8_lossy(input);
        match TestCards::from_toml("cards.toml", &text) {
            Ok(cards) => {
                for card in &cards.cards {
                    assert!(cards.by_number(card.number.as_str()).is_some());
                }
            }
            Err(error) => {
                assert!(error.line.is_none_or(|l| (1..=lines(&text)).contains(&l)), "{error}");
            }
        }
    });
}
