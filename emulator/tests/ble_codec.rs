//! The BLE codecs as properties: any frame cut at any MTU from 23 to 517
//! comes back whole from a reassembler with every fragment within the ATT
//! payload; commands, replies and events round-trip through their JSON
//! bodies; arbitrary bytes never panic the reassembler, the link ends or
//! the PDU decoder; interleaved, reordered, duplicated and truncated
//! fragments give the documented errors and the reassembler resynchronises;
//! a lost event notification shows up as `missed`; and docs/ble-gatt.md's
//! JSON examples, fragment example and UUIDs are the code's.

use proptest::prelude::*;
use readerlab_emulator::core::{
    BatteryStatus, CardSummary, DisconnectReason, EventBody, PowerOffCause,
};
use readerlab_emulator::core::{Brand, Funding};
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{EntryMode, LinkKind};
use readerlab_emulator::wire::ble::frame::{
    Frame, FrameError, Kind, MAX_BODY, Reassembler, fragment,
};
use readerlab_emulator::wire::ble::gatt;
use readerlab_emulator::wire::ble::link::{CentralLink, Inbound, LinkError, PeripheralLink};
use readerlab_emulator::wire::ble::protocol::{Command, ProtocolError, Reply};
use readerlab_emulator::wire::ble::tcp::{MAX_PAYLOAD, Pdu, PduDecoder};

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Request), Just(Kind::Response), Just(Kind::Event)]
}

fn frame() -> impl Strategy<Value = Frame> {
    let body = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..600),
        1 => prop::collection::vec(any::<u8>(), 0..=MAX_BODY),
    ];
    (kind(), any::<u16>(), body).prop_map(|(kind, seq, body)| Frame { kind, seq, body })
}

fn money() -> impl Strategy<Value = Money> {
    (any::<u64>(), prop::sample::select(vec!["usd", "eur", "jpy"]))
        .prop_map(|(amount, c)| Money::new(amount, c.parse::<Currency>().expect("valid code")))
}

fn command() -> impl Strategy<Value = Command> {
    let text = "\\PC{0,40}";
    prop_oneof![
        (text, any::<Option<bool>>(), any::<bool>()).prop_map(
            |(pos, auto_reconnect, fail_if_in_use)| Command::Connect {
                pos,
                auto_reconnect,
                fail_if_in_use
            }
        ),
        Just(Command::Disconnect),
        Just(Command::Reboot),
        Just(Command::InstallUpdate),
        (text, money()).prop_map(|(payment, amount)| Command::Collect { payment, amount }),
        text.prop_map(|payment| Command::Confirm { payment }),
        text.prop_map(|payment| Command::Cancel { payment }),
        text.prop_map(|payment| Command::Complete { payment }),
        any::<bool>().prop_map(|accept| Command::ConfirmPairing { accept }),
        text.prop_map(|payment| Command::CardData { payment }),
        Just(Command::Sync),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        Just(Reply::Accepted),
        "\\PC{0,80}".prop_map(|message| Reply::Refused { message }),
        "\\PC{0,80}"
            .prop_map(|emv_data| Reply::CardData { emv_data, simulated_type: "visa".to_owned() }),
    ]
}

fn events() -> Vec<EventBody> {
    let card = CardSummary { brand: Brand::Visa, funding: Funding::Credit, last4: "4242".into() };
    vec![
        EventBody::PoweredOn,
        EventBody::PoweredOff { cause: PowerOffCause::BatteryEmpty },
        EventBody::BatteryLevel { percent: 17, charging: false, status: BatteryStatus::Low },
        EventBody::Connected { pos: "pos-1".into(), via: LinkKind::Ble },
        EventBody::Disconnected {
            pos: "pos-1".into(),
            reason: DisconnectReason::BluetoothSignalLost,
        },
        EventBody::Collected { payment: "pay_1".into(), entry_mode: EntryMode::Contactless, card },
        EventBody::PaymentDeclined {
            payment: "pay_1".into(),
            error_code: "card_declined".into(),
            decline_code: "insufficient_funds".into(),
        },
        EventBody::UpdateAvailable { version: "2.1".into(), required: true, deadline_ms: None },
    ]
}

/// Pushes every value, keeping the frames completed and the errors met.
fn push_all(r: &mut Reassembler, values: &[Vec<u8>]) -> (Vec<Frame>, Vec<FrameError>) {
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for v in values {
        match r.push(v) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (frames, errors)
}

fn garbage() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..30)
}

/// Values that look like fragments: a valid control byte most of the time.
fn plausible_garbage() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let value = (0x10u8..0x40, prop::collection::vec(any::<u8>(), 0..30)).prop_map(|(c, rest)| {
        let mut v = vec![c];
        v.extend(rest);
        v
    });
    prop::collection::vec(value, 0..30)
}

proptest! {
    #[test]
    fn frames_survive_fragmentation_at_any_mtu(frame in frame(), mtu in 23u16..=517) {
        let values = fragment(&frame, mtu).expect("within limits");
        prop_assert!(values.iter().all(|v| v.len() <= gatt::att_payload(mtu)));
        let mut r = Reassembler::new();
        let (frames, errors) = push_all(&mut r, &values);
        prop_assert!(errors.is_empty(), "{errors:?}");
        prop_assert_eq!(frames, vec![frame]);
        prop_assert!(!r.is_assembling());
    }

    #[test]
    fn commands_round_trip(command in command(), seq in any::<u16>()) {
        let frame = Frame::request(seq, &command).expect("encodes");
        prop_assert_eq!(frame.decode_command(), Ok(command.clone()));
        match command.clone().into_input(LinkKind::Ble) {
            Some(input) => prop_assert_eq!(Command::from_input(&input), Some(command)),
            None => prop_assert!(
                matches!(command, Command::CardData { .. } | Command::Sync),
                "{:?}",
                command
            ),
        }
    }

    #[test]
    fn replies_round_trip(reply in reply(), seq in any::<u16>()) {
        let frame = Frame::response(seq, &reply).expect("encodes");
        prop_assert_eq!(frame.decode_reply(), Ok(reply));
    }

    #[test]
    fn commands_cross_the_links_at_any_mtu(
        commands in prop::collection::vec(command(), 1..6),
        mtu in 23u16..=517,
    ) {
        let mut central = CentralLink::new(mtu);
        let mut peripheral = PeripheralLink::new(mtu);
        for command in commands {
            let (seq, values) = central.send(command.clone()).expect("encodes");
            let mut got = None;
            for v in &values {
                got = peripheral.on_write(v).expect("valid");
            }
            prop_assert_eq!(got, Some((seq, command.clone())));
            let mut inbound = None;
            for v in peripheral.respond(seq, &Reply::Accepted).expect("encodes") {
                inbound = central.on_notification(&v).expect("valid");
            }
            prop_assert_eq!(
                inbound,
                Some(Inbound::Response { seq, command, reply: Reply::Accepted })
            );
        }
        prop_assert_eq!(central.pending().count(), 0);
    }

    #[test]
    fn arbitrary_values_never_panic(values in garbage(), plausible in plausible_garbage()) {
        let mut r = Reassembler::new();
        let mut central = CentralLink::new(23);
        let mut peripheral = PeripheralLink::new(23);
        let mut decoder = PduDecoder::new();
        for v in values.iter().chain(&plausible) {
            let _ = r.push(v);
            let _ = central.on_notification(v);
            let _ = peripheral.on_write(v);
            decoder.push(v);
            while let Ok(Some(_)) = decoder.next_pdu() {}
        }
    }

    #[test]
    fn the_reassembler_resynchronises_within_two_messages(
        noise in plausible_garbage(),
        frame in frame(),
        mtu in 23u16..=517,
    ) {
        let mut r = Reassembler::new();
        push_all(&mut r, &noise);
        let values = fragment(&frame, mtu).expect("within limits");
        // The first copy may be lost to what the noise left half-assembled;
        // the second always decodes.
        push_all(&mut r, &values);
        let (frames, errors) = push_all(&mut r, &values);
        prop_assert!(errors.is_empty(), "{errors:?}");
        prop_assert_eq!(frames, vec![frame]);
    }

    #[test]
    fn pdu_streams_survive_any_chunking(
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD), 0..8),
        cuts in prop::collection::vec(1usize..600, 1..20),
    ) {
        let pdus: Vec<Pdu> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match i % 4 {
                0 => Pdu::Write(v),
                1 => Pdu::Notification(v),
                2 => Pdu::ReadResponse(v),
                _ => Pdu::MtuExchange(v.len() as u16),
            })
            .chain([Pdu::ReadRequest(gatt::SERIAL_NUMBER_CHAR), Pdu::Disconnect])
            .collect();
        let stream: Vec<u8> = pdus.iter().flat_map(|p| p.encode().expect("fits")).collect();
        let mut decoder = PduDecoder::new();
        let mut out = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
            rest = tail;
            decoder.push(chunk);
            while let Some(pdu) = decoder.next_pdu().expect("valid stream") {
                out.push(pdu);
            }
        }
        prop_assert_eq!(out, pdus);
    }
}

#[test]
fn events_round_trip() {
    for (seq, body) in events().into_iter().enumerate() {
        let frame = Frame::event(seq as u16, &body).expect("encodes");
        assert_eq!(frame.decode_event(), Ok(body));
    }
}

fn request(seq: u16, len: usize) -> (Frame, Vec<Vec<u8>>) {
    let frame = Frame { kind: Kind::Request, seq, body: vec![seq as u8; len] };
    let values = fragment(&frame, 23).expect("within limits");
    (frame, values)
}

#[test]
fn interleaved_messages_name_the_abandoned_one_and_the_next_decodes() {
    let (_, a) = request(1, 40);
    let (_, b) = request(2, 40);
    let (c, c_values) = request(3, 40);
    let mut r = Reassembler::new();
    assert_eq!(r.push(&a[0]), Ok(None));
    assert_eq!(
        r.push(&b[0]),
        Err(FrameError::Abandoned {
            kind: Kind::Request,
            abandoned: 1,
            new_kind: Kind::Request,
            new_seq: 2
        })
    );
    assert_eq!(
        r.push(&a[1]),
        Err(FrameError::ContinuationWithoutFirst { kind: Kind::Request, seq: 1, index: 1 })
    );
    assert_eq!(push_all(&mut r, &c_values), (vec![c], vec![]));
}

#[test]
fn a_fragment_of_another_message_is_named() {
    let (_, a) = request(1, 40);
    let (_, b) = request(2, 40);
    let mut r = Reassembler::new();
    assert_eq!(r.push(&a[0]), Ok(None));
    assert_eq!(
        r.push(&b[1]),
        Err(FrameError::OtherMessage {
            kind: Kind::Request,
            seq: 1,
            got_kind: Kind::Request,
            got_seq: 2
        })
    );
    assert!(!r.is_assembling());
}

#[test]
fn reordered_and_duplicated_fragments_are_out_of_order() {
    let (a, values) = request(1, 40);
    let mut r = Reassembler::new();
    assert_eq!(r.push(&values[0]), Ok(None));
    assert_eq!(
        r.push(&values[2]),
        Err(FrameError::OutOfOrder { kind: Kind::Request, seq: 1, expected: 1, got: 2 })
    );
    assert_eq!(r.push(&values[0]), Ok(None));
    assert_eq!(r.push(&values[1]), Ok(None));
    assert_eq!(
        r.push(&values[1]),
        Err(FrameError::OutOfOrder { kind: Kind::Request, seq: 1, expected: 2, got: 1 })
    );
    assert_eq!(push_all(&mut r, &values), (vec![a], vec![]));
}

#[test]
fn truncated_values_and_bodies_are_errors() {
    let (a, values) = request(1, 40);
    let mut r = Reassembler::new();
    assert_eq!(r.push(&values[0][..3]), Err(FrameError::TooShort { len: 3, need: 5 }));
    assert_eq!(r.push(&values[0][..7]), Err(FrameError::TooShort { len: 7, need: 9 }));
    // The LAST fragment cut short: fewer bytes than declared.
    assert_eq!(r.push(&values[0]), Ok(None));
    assert_eq!(r.push(&values[1]), Ok(None));
    let short_last = &values[2][..values[2].len() - 1];
    assert_eq!(
        r.push(short_last),
        Err(FrameError::LengthMismatch { kind: Kind::Request, seq: 1, declared: 40, got: 39 })
    );
    // A message whose LAST never came is abandoned by the next FIRST.
    assert_eq!(r.push(&values[0]), Ok(None));
    assert!(matches!(r.push(&values[0]), Err(FrameError::Abandoned { abandoned: 1, .. })));
    assert_eq!(push_all(&mut r, &values), (vec![a], vec![]));
}

#[test]
fn bad_control_bytes_and_declared_lengths_are_errors() {
    let mut r = Reassembler::new();
    assert_eq!(
        r.push(&[0x43, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(FrameError::UnknownKind { code: 4, control: 0x43 })
    );
    assert_eq!(
        r.push(&[0x17, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(FrameError::UnknownFlags { control: 0x17 })
    );
    let over = (MAX_BODY as u32 + 1).to_le_bytes();
    let value = [0x11, 5, 0, 0, 0, over[0], over[1], over[2], over[3]];
    assert_eq!(
        r.push(&value),
        Err(FrameError::TooLong { seq: 5, len: MAX_BODY as u64 + 1, max: MAX_BODY })
    );
    // More body than declared is caught as it arrives.
    let value = [0x13, 6, 0, 0, 0, 1, 0, 0, 0, 0xaa, 0xbb];
    assert_eq!(
        r.push(&value),
        Err(FrameError::LengthMismatch { kind: Kind::Request, seq: 6, declared: 1, got: 2 })
    );
    assert_eq!(
        fragment(&Frame { kind: Kind::Event, seq: 0, body: vec![] }, 22),
        Err(FrameError::MtuTooSmall { mtu: 22, min: 23 })
    );
}

#[test]
fn a_lost_event_notification_is_missed_not_silent() {
    let mut central = CentralLink::new(23);
    let mut peripheral = PeripheralLink::new(23);
    let mut delivered = Vec::new();
    for (i, body) in events().iter().enumerate() {
        let values = peripheral.notify(body).expect("encodes");
        if i == 2 || i == 3 {
            continue; // two events lost on the air
        }
        for v in &values {
            if let Some(inbound) = central.on_notification(v).expect("valid") {
                delivered.push(inbound);
            }
        }
    }
    let missed: Vec<(u16, u16)> = delivered
        .iter()
        .map(|i| match i {
            Inbound::Event { seq, missed, .. } => (*seq, *missed),
            other => panic!("expected an event, got {other:?}"),
        })
        .collect();
    assert_eq!(missed, vec![(0, 0), (1, 0), (4, 2), (5, 0), (6, 0), (7, 0)]);
}

#[test]
fn link_errors_say_what_was_wrong() {
    let mut central = CentralLink::new(100);
    let mut peripheral = PeripheralLink::new(100);
    // A request notified to the central, a response written to the peripheral.
    let (_, values) = central.send(Command::Reboot).expect("encodes");
    assert_eq!(
        central.on_notification(&values[0]),
        Err(LinkError::UnexpectedKind { kind: Kind::Request, seq: 0 })
    );
    let response = peripheral.respond(0, &Reply::Accepted).expect("encodes");
    assert_eq!(
        peripheral.on_write(&response[0]),
        Err(LinkError::UnexpectedKind { kind: Kind::Response, seq: 0 })
    );
    // A request whose body is not a command: the seq is there to refuse it.
    let bad = Frame { kind: Kind::Request, seq: 9, body: b"{\"command\":\"fly\"}".to_vec() };
    let values = fragment(&bad, 100).expect("within limits");
    assert!(matches!(
        peripheral.on_write(&values[0]),
        Err(LinkError::Protocol(ProtocolError::Json { seq: 9, .. }))
    ));
    // A reply that does not decode fails its command.
    let bad = Frame { kind: Kind::Response, seq: 0, body: b"[]".to_vec() };
    let values = fragment(&bad, 100).expect("within limits");
    assert!(matches!(
        central.on_notification(&values[0]),
        Err(LinkError::BadReply { seq: 0, command: Command::Reboot, .. })
    ));
    assert_eq!(central.pending().count(), 0);
}

#[test]
fn the_mtu_may_change_between_messages() {
    let mut central = CentralLink::new(23);
    let mut peripheral = PeripheralLink::new(23);
    let collect =
        Command::Collect { payment: "pay_1".into(), amount: Money::new(5, Currency::USD) };
    let (seq_a, small) = central.send(collect.clone()).expect("encodes");
    central.set_mtu(247);
    let (seq_b, large) = central.send(collect.clone()).expect("encodes");
    assert!(small.len() > 1 && small.iter().all(|v| v.len() <= gatt::att_payload(23)));
    assert_eq!(large.len(), 1);
    // The fragments of the first still reassemble after the change.
    let mut got = Vec::new();
    for v in small.iter().chain(&large) {
        got.extend(peripheral.on_write(v).expect("valid"));
    }
    assert_eq!(got, vec![(seq_a, collect.clone()), (seq_b, collect)]);
    assert_eq!(central.pending().map(|(s, _)| s).collect::<Vec<_>>(), vec![seq_a, seq_b]);
    assert_eq!(central.take_pending().len(), 2);
}

fn uuid_text(uuid: u128) -> String {
    let h = format!("{uuid:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ble-gatt.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_doc_examples_are_the_codes() {
    let doc = doc();
    for uuid in [
        gatt::READER_SERVICE,
        gatt::COMMAND_CHAR,
        gatt::NOTIFY_CHAR,
        gatt::BATTERY_LEVEL_CHAR,
        gatt::MANUFACTURER_NAME_CHAR,
        gatt::MODEL_NUMBER_CHAR,
        gatt::SERIAL_NUMBER_CHAR,
        gatt::FIRMWARE_REVISION_CHAR,
    ] {
        assert!(doc.contains(&uuid_text(uuid)), "docs/ble-gatt.md lacks {}", uuid_text(uuid));
    }
    let mut in_json = false;
    let mut examples = 0;
    for line in doc.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            example if in_json => {
                let frame = |kind| Frame { kind, seq: 0, body: example.as_bytes().to_vec() };
                let command = frame(Kind::Request).decode_command();
                let reply = frame(Kind::Response).decode_reply();
                let event = frame(Kind::Event).decode_event();
                assert!(
                    command.is_ok() || reply.is_ok() || event.is_ok(),
                    "not a message: {example}"
                );
                // Written as the code writes it.
                let again = match (command, reply, event) {
                    (Ok(c), _, _) => Frame::request(0, &c).map(|f| f.body),
                    (_, Ok(r), _) => Frame::response(0, &r).map(|f| f.body),
                    (_, _, Ok(e)) => Frame::event(0, &e).map(|f| f.body),
                    _ => unreachable!("checked above"),
                };
                assert_eq!(
                    String::from_utf8(again.expect("encodes")).ok().as_deref(),
                    Some(example)
                );
                examples += 1;
            }
            _ => {}
        }
    }
    assert_eq!(examples, 16);
    let values = fragment(&Frame::request(1, &Command::Reboot).expect("encodes"), 23)
        .expect("within limits");
    let hex: Vec<String> = values
        .iter()
        .map(|v| v.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" "))
        .collect();
    for line in hex {
        assert!(doc.contains(&line), "docs/ble-gatt.md lacks the fragment {line}");
    }
    let ad = gatt::Advertisement::of("m2", "STRM2-0001").expect("mobile model");
    let data: Vec<String> = ad.manufacturer_data.iter().map(|b| format!("{b:02X}")).collect();
    assert!(doc.contains(&data.join(" ")));
}
