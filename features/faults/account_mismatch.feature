@fault:account_mismatch
Feature: Connection tokens for another account while forwarding
  A stored payment belongs to the account it was taken for. When the token
  provider hands out a token of another account, the backend refuses the
  forward and the SDK reports ACCOUNT_ID_MISMATCH_WHILE_FORWARDING
  (docs/domain.md §5); nothing is charged to the wrong account.

  Scenario: A forward with another account's token is refused with ACCOUNT_ID_MISMATCH_WHILE_FORWARDING
    Given a rig with a Stripe Reader M2
    And the next 1 connection token is for another account
    When the internet goes down
    And the customer pays 24.00 USD as "drum"
    And the internet comes back
    Then "drum" is forwarded with error ACCOUNT_ID_MISMATCH_WHILE_FORWARDING within 5 minutes
    And the backend holds 0 charges for "drum"

  Scenario: A smart reader's forward with another account's token is refused
    Given a rig with a Stripe Reader S700
    And the next 1 connection token is for another account
    When the internet goes down
    And the customer pays 24.00 USD as "drum"
    And the internet comes back
    Then "drum" is forwarded with error ACCOUNT_ID_MISMATCH_WHILE_FORWARDING within 5 minutes
    And the backend holds 0 charges for "drum"
