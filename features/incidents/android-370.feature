Feature: android-370, the USB link drops while a payment is processing

  In the field, on a Stripe Reader M2 over USB: "process payment; unexpected
  disconnect during processing", and the payment succeeded 1.6 s later. The
  payment must be reported exactly once, charged once, and the reader
  reconnected.

  @incident @source:android-370
  Scenario: The USB cable comes out during confirm and the outcome is reported once
    Given a rig with a Stripe Reader M2
    And the POS reaches its reader over USB
    When the customer starts paying 25.00 USD as "boots"
    And the reader has read the card for "boots"
    And the USB cable of the reader is pulled
    And 5 seconds pass
    And the USB cable of the reader is plugged back in
    Then the reader is connected within 2 minutes
    And "boots" succeeds online
    And the history has 1 "payment.succeeded" event
    And the history has no "payment.failed" event
    And the backend holds 1 charge for "boots"
    And the history has a "reader.disconnected" event with reason "usb_disconnected"
