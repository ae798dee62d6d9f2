@fault:latency
Feature: A slow internet
  Extra latency below the SDK's request timeout only slows payments down;
  latency beyond it makes the SDK fall back offline (docs/domain.md §3).

  Scenario: A slow but working internet still takes payments online
    Given a rig with a Stripe Reader M2
    When the internet slows down by 2500 ms
    And the customer pays 6.00 USD as "soup"
    Then "soup" succeeds online
    And the backend holds 1 charge for "soup"

  Scenario: An internet slower than the request timeout makes the payment fall back offline
    Given a rig with a BBPOS WisePad 3
    When the internet slows down by 20000 ms
    And the customer pays 6.00 USD as "soup"
    Then "soup" is stored offline
    When the internet is fast again
    Then "soup" is forwarded within 5 minutes
    And the backend holds 1 charge for "soup"

  Scenario: A slow internet on a smart reader
    Given a rig with a Stripe Reader S700
    When the internet slows down by 3000 ms
    And the customer pays 6.00 USD as "soup" with FORCE_OFFLINE
    Then "soup" is stored offline
    And "soup" is forwarded within 5 minutes
    And the backend holds 1 charge for "soup"
