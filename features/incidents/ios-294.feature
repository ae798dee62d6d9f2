Feature: ios-294, a confirm that fell back offline is declined at forwarding

  In the field: "intent created online; network flaps before confirm; confirm
  falls back offline and reports success; customer leaves". The payment was
  declined later (insufficient funds) at forwarding. The decline on sync must
  reach the app once, through the forwarded callback, and nothing is charged.

  @incident @source:ios-294
  Scenario: The confirm times out, falls back offline, and the card is declined on sync
    Given a rig with a Stripe Reader M2
    And the backend declines the next 1 forwarded payment with insufficient_funds
    And the next "confirm" request from the POS times out
    When the customer pays 64.00 USD as "jacket"
    Then the history has a "payment.intent.created" event with mode "online"
    And the history has a "payment.fell_back_offline" event with payment "jacket"
    And "jacket" is stored offline
    And "jacket" is declined on sync with insufficient_funds within 5 minutes
    And the history has 1 "offline.payment.forwarded" event
    And the backend holds 0 charges for "jacket"
