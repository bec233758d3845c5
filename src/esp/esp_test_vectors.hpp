// Known-answer ESP packets transcribed from published test vectors.
//
// Data only. Transcribed from the sources below and verified byte for byte by
// scripts/verify_esp_vectors.py, which recomputes every `packet` from the other fields with
// an independent implementation (Python `cryptography`). Run it after any edit here.
//
// Sources:
//  - draft-mcgrew-gcm-test-01 §4 "Test Cases" (D. McGrew, March 2009): 16 AES-GCM-ESP
//    packets (RFC 4106) and 1 AES-GMAC-ESP packet (RFC 4543). The draft numbers neither
//    section nor cases; "test case N" below is the Nth vector in document order and the page
//    number is that of the draft's text version. The draft gives each AES key and the 12-byte
//    nonce; the salt is the nonce's first 4 bytes and the IV its last 8 (RFC 4106 §4).
//  - RFC 7634 Appendix A "ESP Example": 1 ChaCha20-Poly1305 packet. Transcribed from
//    Appendix A of draft-ietf-ipsecme-chacha20-poly1305-12, the version approved as RFC 7634
//    (the RFC text itself was not available to us); the ESP bytes also match strongSwan's
//    src/libipsec/tests/suites/test_chapoly.c.
//  - RFC 3602 §4 "Test Vectors", Cases #5-#8: 4 AES-CBC packets without an ICV. Transcribed
//    from §4 of draft-ietf-ipsec-ciph-aes-cbc-04 (the RFC 3602 text itself was not
//    available to us); the SPI..ciphertext bytes also match a third-party test labelled
//    "RFC3602 test vector case 5..8" (Java de.rub.nds.ipsec.statemachineextractor ESPMessageTest).
//    uipsec has no encryption-only SAs, so each of these gets an HMAC-SHA-256-128 ICV
//    (RFC 4868) that WE computed under kCbcTestAuthKey; see icv_computed_locally.
//
// Conventions:
//  - Hex strings are lower case without separators; long ones are split into adjacent
//    string literals.
//  - cipher/auth use Linux ip-xfrm algorithm names. For the AEADs, cipher_key is the key
//    followed by the 4-byte salt, as Linux (and RFC 4106 §8.1 / RFC 4543 §5.4 /
//    RFC 7634 §2 KEYMAT) lay it out.
//  - sequence is the full sequence number; esn says whether the SA uses extended sequence
//    numbers (only the low 32 bits are on the wire; the high 32 bits go into the AAD, or for
//    CBC+HMAC at the end of the ICV input, RFC 4303 §2.2.1).
//  - payload is the data ESP protects (what next_header describes), without padding, pad
//    length or next header. padding is the padding bytes exactly as in the vector.
//  - packet is the whole ESP packet, SPI through ICV, with no outer IP/UDP header.
//  - Every vector pads with the monotonic sequence 1, 2, 3, ... and every vector uses the
//    minimal padding for its alignment (4 bytes for GCM/GMAC/ChaCha20-Poly1305, 16 for
//    AES-CBC); none uses TFC padding.
//  - Next header values are as published: all draft-mcgrew-gcm-test-01 vectors use 1 (ICMP),
//    even those whose payload is an IPv4 packet, ASCII text or empty.
#pragma once

#include <cstdint>

namespace uipsec::test_vectors {

struct EspKnownAnswer {
  const char* source;      // where the vector is published, exact enough to find it again
  const char* cipher;      // Linux ip-xfrm name
  const char* cipher_key;  // hex; AEADs: key bytes followed by the 4-byte salt
  const char* auth;        // "" for AEADs, "hmac(sha256)" for the CBC vectors
  const char* auth_key;    // hex or ""
  unsigned icv_bits;       // 128 for all of these
  std::uint32_t spi;
  std::uint64_t sequence;  // full sequence number (high 32 bits only meaningful when esn)
  bool esn;
  const char* iv;       // hex, the explicit IV carried in the packet
  const char* payload;  // hex, WITHOUT padding / pad length / next header
  unsigned pad_length;  // the pad length byte's value in the vector
  const char* padding;  // hex of the padding bytes in the vector
  std::uint8_t next_header;
  const char* packet;         // hex, the whole ESP packet from SPI through ICV
  bool icv_computed_locally;  // true: the last icv_bits/8 bytes of packet are OUR HMAC, not
                              // the source's (RFC 3602 vectors have no ICV)
  const char* outer_header;   // hex, outer IPv4 header the source shows, or "" if none
};

// Test-only HMAC-SHA-256 key (bytes 0x01..0x20) under which the ICVs of the RFC 3602
// entries were computed. Not from any source.
inline constexpr const char* kCbcTestAuthKey =
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

inline constexpr EspKnownAnswer kEspKnownAnswers[] = {
    // draft-mcgrew-gcm-test-01 §4, test case 1 of 17 (page 7).
    // AES-128, ESN 0x87654321_00000000 (low 32 bits on the wire are zero).
    // Payload starts like an IPv4 packet whose total length field says 72, but the ESP
    // trailer takes its last 4 bytes, so the payload is 68 bytes.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 1 of 17 (page 7)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "4c80cdefbb5d10da906ac73c3613a6342e443b68",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00004321,
        .sequence = 0x8765432100000000,
        .esn = true,
        .iv = "4956ed7e3b244cfe",
        .payload = "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
                   "00000000045f736970045f756470037369700963796265726369747902646b00"
                   "00210001",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b76"
                  "8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d"
                  "15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72"
                  "2fd04796562dfdb4",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 2 of 17 (page 8).
    // AES-128, 32-bit sequence number, pad length 0.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 2 of 17 (page 8)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "feffe9928665731c6d6a8f9467308308cafebabe",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x0000a5f8,
        .sequence = 0xa,
        .esn = false,
        .iv = "facedbaddecaf888",
        .payload = "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
                   "0001000000000000037369700963796265726369747902646b0000010001",
        .pad_length = 0,
        .padding = "",
        .next_header = 1,
        .packet = "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304"
                  "a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
                  "cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 3 of 17 (page 9).
    // AES-256, 32-bit sequence number.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 3 of 17 (page 9)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
                      "11223344",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x4a2cbfe3,
        .sequence = 0x2,
        .esn = false,
        .iv = "0102030405060708",
        .payload = "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
                   "7002400020bf0000020405b401010402",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d"
                  "6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
                  "ef842d8eb335f4eecfdbf831824b4c4915956c96",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 4 of 17 (page 10).
    // AES-128 with all-zero key, salt and IV; SPI 0, which RFC 4303 §2.1 reserves
    // ("MUST NOT be sent on the wire"): an implementation that rejects SPI 0 needs a bypass.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 4 of 17 (page 10)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "0000000000000000000000000000000000000000",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00000000,
        .sequence = 0x1,
        .esn = false,
        .iv = "0000000000000000",
        .payload = "4500003c99c500008001cb7a40679318010101010800075c0200440061626364"
                   "65666768696a6b6c6d6e6f7071727374757677616263646566676869",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "000000000000000100000000000000004688daf2f973a392732909c331d56d60"
                  "f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb64de7d9dca1e1d894"
                  "bc3bd57873ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 5 of 17 (page 11).
    // AES-128, ESN 0x10101010_10101010.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 5 of 17 (page 11)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "3de09874b388e6491988d0c3607eae1f57690e43",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x42f67e3f,
        .sequence = 0x1010101010101010,
        .esn = true,
        .iv = "4e280000a2fca1a3",
        .payload = "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
                   "65666768696a6b6c6d6e6f7071727374757677616263646566676869",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0"
                  "fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9"
                  "1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 6 of 17 (page 12, first on page).
    // AES-128, ESN; same key, nonce, SPI and sequence number as case 5.
    // Inner IPv4 total length says 28 but the payload is 24 bytes (trailer overlaps it).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 6 of 17 (page 12, first on page)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "3de09874b388e6491988d0c3607eae1f57690e43",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x42f67e3f,
        .sequence = 0x1010101010101010,
        .esn = true,
        .iv = "4e280000a2fca1a3",
        .payload = "4500001c42a200008001441f406793b6e00000020a00f5ff",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "42f67e3f101010104e280000a2fca1a3fba2ca845e5df9f0f22c3e6e86dd831e"
                  "1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 7 of 17 (page 12, second on page).
    // AES-192 (24-byte key). Inner IPv4 total length says 40, payload is 38 bytes
    // (pad length 0; the trailer overlaps the inner packet).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 7 of 17 (page 12, second on page)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "feffe9928665731c6d6a8f9467308308feffe9928665731ccafebabe",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x0000a5f8,
        .sequence = 0xa,
        .esn = false,
        .iv = "facedbaddecaf888",
        .payload = "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e"
                   "501016d07568",
        .pad_length = 0,
        .padding = "",
        .next_header = 1,
        .packet = "0000a5f80000000afacedbaddecaf888a5b1f8066029aea40e598b8122de0242"
                  "0938b3ab33f828e687b8858b5bfbdbd0315b27452144cc7795457b9652037f53"
                  "18027b5b4cd7a636",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 8 of 17 (page 13).
    // AES-128, ESN 0x00000000_00000001, SPI 0x100.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 8 of 17 (page 13)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "abbccddef00112233445566778899aabdecaf888",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00000100,
        .sequence = 0x1,
        .esn = true,
        .iv = "cafedebaceface74",
        .payload = "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
                   "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
                   "9b6266c04722b14923",
        .pad_length = 1,
        .padding = "01",
        .next_header = 1,
        .packet = "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814"
                  "e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472"
                  "b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6"
                  "5f354f75ff17015769623436",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 9 of 17 (page 14).
    // AES-256, ESN 0x156f3126_dd0db99b. Inner IPv4 total length says 40, payload is 38
    // bytes (pad length 0; the trailer overlaps the inner packet).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 9 of 17 (page 14)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
                      "73616c74",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x17405e67,
        .sequence = 0x156f3126dd0db99b,
        .esn = true,
        .iv = "616e640169766563",
        .payload = "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
                   "50101f646d54",
        .pad_length = 0,
        .padding = "",
        .next_header = 1,
        .packet = "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d"
                  "1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3"
                  "b7eebca614c89b35",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 10 of 17 (page 15).
    // AES-128, ESN; same key, nonce, SPI and sequence number as case 5.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 10 of 17 (page 15)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "3de09874b388e6491988d0c3607eae1f57690e43",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x42f67e3f,
        .sequence = 0x1010101010101010,
        .esn = true,
        .iv = "4e280000a2fca1a3",
        .payload = "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b"
                   "000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32"
                   "5ae270c03899493915",
        .pad_length = 1,
        .padding = "01",
        .next_header = 1,
        .packet = "42f67e3f101010104e280000a2fca1a3fba2cad12fc1f9f00d3cebf305410db8"
                  "3d7784b607323d220f24b0a97d54182800cadb0f68d99ef0e0c0c89ae9bea888"
                  "4e52d65bc1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5"
                  "769189609763b8e18caa81e2",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 11 of 17 (page 16).
    // AES-256, ESN; same key, nonce, SPI and sequence number as case 9.
    // Payload is ASCII text, not a packet (next header is still 1).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 11 of 17 (page 16)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
                      "73616c74",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x17405e67,
        .sequence = 0x156f3126dd0db99b,
        .esn = true,
        .iv = "616e640169766563",
        .payload = "636973636f0172756c657301746865016e6574776501646566696e6501746865"
                   "746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f"
                   "72726f77",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "17405e67dd0db99b616e640169766563d4b7ed86a1777f2ea13d6973d324c69e"
                  "7b43f826fb56831226508bebd2dceb18d0a6df10e5487df074113e14c641024e"
                  "3e6773d91a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b"
                  "11e24f30e44ccc76",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 12 of 17 (page 17, first on page).
    // AES-128, 32-bit sequence number 0xffffffff (last value before a non-ESN SA must
    // rekey). Empty payload: the plaintext is only padding 01 02, pad length 2, next header 1.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 12 of 17 (page 17, first on page)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "7d773d00c144c525ac619d18c84a3f47d9664267",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x335467ae,
        .sequence = 0xffffffff,
        .esn = false,
        .iv = "43457e9182443bc6",
        .payload = "",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c45"
                  "04bef270",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 13 of 17 (page 17, second on page).
    // AES-128, ESN 1; same key, nonce, SPI and sequence number as case 8.
    // Payload is ASCII text ("to\1be\1or\1not\1to\1be"), pad length 0.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 13 of 17 (page 17, second on page)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "abbccddef00112233445566778899aabdecaf888",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00000100,
        .sequence = 0x1,
        .esn = true,
        .iv = "cafedebaceface74",
        .payload = "746f016265016f72016e6f7401746f016265",
        .pad_length = 0,
        .padding = "",
        .next_header = 1,
        .packet = "0000010000000001cafedebaceface7429c9fc69a197d038ccdd14e2ddfcaa05"
                  "43332164412503524303ed3c6c5f283843af8c3e",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 14 of 17 (page 18).
    // AES-256, ESN 0xffffffff_ffffffff (the largest 64-bit sequence number).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 14 of 17 (page 18)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961"
                      "7475726e",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x796b6963,
        .sequence = 0xffffffffffffffff,
        .esn = true,
        .iv = "333021696765746d",
        .payload = "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
                   "65666768696a6b6c6d6e6f7071727374",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25d"
                  "d24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe82"
                  "1dcc63b9d0937ba2945f669368661a329fb4c053",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 15 of 17 (page 19).
    // AES-128-GMAC (RFC 4543 ENCR_NULL_AUTH_AES_GMAC): nothing is encrypted; the payload
    // and trailer appear in clear after the all-zero IV, followed by the 16-byte tag.
    // AAD = SPI || seq || IV || payload || padding || pad length || next header.
    // The draft prints ctext+tag as "(16 octets)" with no bytes; the tag is taken from
    // the draft's packet field.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 15 of 17 (page 19)",
        .cipher = "rfc4543(gcm(aes))",
        .cipher_key = "4c80cdefbb5d10da906ac73c3613a63422433c64",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00004321,
        .sequence = 0x7,
        .esn = false,
        .iv = "0000000000000000",
        .payload = "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
                   "65666768696a6b6c6d6e6f7071727374",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "0000432100000007000000000000000045000030da3a00008001df3bc0a80005"
                  "c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f7071727374"
                  "01020201f2a9a836e155106aa8dcd618e4099aaa",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 16 of 17 (page 20).
    // AES-128, ESN; same key and nonce as case 5 but SPI 0x3f7ef642 (byte-swapped).
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 16 of 17 (page 20)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "3de09874b388e6491988d0c3607eae1f57690e43",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x3f7ef642,
        .sequence = 0x1010101010101010,
        .esn = true,
        .iv = "4e280000a2fca1a3",
        .payload = "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
                   "65666768696a6b6c6d6e6f7071727374",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "3f7ef642101010104e280000a2fca1a3fba2caa8c6c5f9f0f22ca54a061210ad"
                  "3f6e5791cf1aca210d117cec9c35791765acbd8701ad79845bf9fe3fba487bc9"
                  "6321930684eecadb56912546e7a95c9740d7cb05",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // draft-mcgrew-gcm-test-01 §4, test case 17 of 17 (page 21).
    // AES-128, ESN 0x87654321_00000007; payload is an ICMP echo request.
    {
        .source = "draft-mcgrew-gcm-test-01 §4, test case 17 of 17 (page 21)",
        .cipher = "rfc4106(gcm(aes))",
        .cipher_key = "4c80cdefbb5d10da906ac73c3613a63422433c64",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x00004321,
        .sequence = 0x8765432100000007,
        .esn = true,
        .iv = "4855ec7d3a234bfd",
        .payload = "0800c6cd020007006162636465666768696a6b6c6d6e6f7071727374",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "00004321000000074855ec7d3a234bfd74752e8aeb5d873cd7c0f4acc36c4bff"
                  "84b7d7b98f0ca8b6acda6894bc619069ef9cbc28fe1b56a7c4e0d58c86cd2bc0",
        .icv_computed_locally = false,
        .outer_header = "",
    },
    // RFC 7634 Appendix A (ESP Example), tunnel mode; ESP part from SPI to ICV.
    // ChaCha20-Poly1305, tunnel mode, 32-bit sequence number 5, next header 4 (IPv4).
    // Transcribed from Appendix A of draft-ietf-ipsecme-chacha20-poly1305-12 (the version
    // approved as RFC 7634); the same bytes are in strongSwan's test_chapoly.c.
    // outer_header is the outer IPv4 header (203.0.113.153 -> 203.0.113.5, protocol 50)
    // that the RFC prints before the SPI.
    {
        .source = "RFC 7634 Appendix A (ESP Example), tunnel mode; ESP part from SPI to ICV",
        .cipher = "rfc7539esp(chacha20,poly1305)",
        .cipher_key = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                      "a0a1a2a3",
        .auth = "",
        .auth_key = "",
        .icv_bits = 128,
        .spi = 0x01020304,
        .sequence = 0x5,
        .esn = false,
        .iv = "1011121314151617",
        .payload = "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10"
                   "0007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
                   "2425262728292a2b2c2d2e2f3031323334353637",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 4,
        .packet = "0102030400000005101112131415161724039428b97f417e3c13753a4f05087b"
                  "67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7"
                  "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da"
                  "9165b82829f641e076aaa8266b7fb0f7b11b369907e1ad43",
        .icv_computed_locally = false,
        .outer_header = "4500008c234500004032de5bcb007199cb007105",
    },
    // RFC 3602 §4, Case #5 (transport mode): RFC packet + our computed ICV.
    // AES-128-CBC, transport mode (ICMP echo), next header 1, 14 bytes of padding.
    // The bytes from SPI through the CBC ciphertext are RFC 3602's; the last 16 bytes
    // are HMAC-SHA-256-128 under kCbcTestAuthKey over SPI || seq || IV || ciphertext,
    // computed by us (RFC 3602 has no ICV).
    // outer_header is the post-encryption IPv4 header the RFC prints.
    {
        .source = "RFC 3602 §4, Case #5 (transport mode)",
        .cipher = "cbc(aes)",
        .cipher_key = "90d382b410eeba7ad938c46cec1a82bf",
        .auth = "hmac(sha256)",
        .auth_key = kCbcTestAuthKey,
        .icv_bits = 128,
        .spi = 0x00004321,
        .sequence = 0x1,
        .esn = false,
        .iv = "e96e8c08ab465763fd098d45dd3ff893",
        .payload = "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f1011121314151617"
                   "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
        .pad_length = 14,
        .padding = "0102030405060708090a0b0c0d0e",
        .next_header = 1,
        .packet = "0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6"
                  "a9453e194e120849a4870b66cc6b9965330013b4898dc856a4699e523a55db08"
                  "0b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d59"
                  "13ac19b7cfbad4a6a4de5ff4f4cf744b89129c5b5e3efa4b",
        .icv_computed_locally = true,
        .outer_header = "4500007c08f200004032f9a5c0a87b03c0a87b64",
    },
    // RFC 3602 §4, Case #6 (transport mode): RFC packet + our computed ICV.
    // AES-128-CBC, transport mode (ICMP echo), next header 1.
    // The bytes from SPI through the CBC ciphertext are RFC 3602's; the last 16 bytes
    // are HMAC-SHA-256-128 under kCbcTestAuthKey over SPI || seq || IV || ciphertext,
    // computed by us (RFC 3602 has no ICV).
    // outer_header is the post-encryption IPv4 header the RFC prints.
    {
        .source = "RFC 3602 §4, Case #6 (transport mode)",
        .cipher = "cbc(aes)",
        .cipher_key = "90d382b410eeba7ad938c46cec1a82bf",
        .auth = "hmac(sha256)",
        .auth_key = kCbcTestAuthKey,
        .icv_bits = 128,
        .spi = 0x00004321,
        .sequence = 0x8,
        .esn = false,
        .iv = "69d08df7d203329db093fc4924e5bd80",
        .payload = "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777",
        .pad_length = 2,
        .padding = "0102",
        .next_header = 1,
        .packet = "000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4"
                  "488987ce742e8109689bb379d2d750c0d915dca346a89f7513c6589482d4984d"
                  "98be85ddba8e85fe",
        .icv_computed_locally = true,
        .outer_header = "4500004c08fe00004032f9c9c0a87b03c0a87b64",
    },
    // RFC 3602 §4, Case #7 (tunnel mode): RFC packet + our computed ICV.
    // AES-128-CBC, tunnel mode (inner IPv4 packet), next header 4, 10 bytes of padding.
    // The bytes from SPI through the CBC ciphertext are RFC 3602's; the last 16 bytes
    // are HMAC-SHA-256-128 under kCbcTestAuthKey over SPI || seq || IV || ciphertext,
    // computed by us (RFC 3602 has no ICV).
    // outer_header is the post-encryption IPv4 header the RFC prints.
    {
        .source = "RFC 3602 §4, Case #7 (tunnel mode)",
        .cipher = "cbc(aes)",
        .cipher_key = "0123456789abcdef0123456789abcdef",
        .auth = "hmac(sha256)",
        .auth_key = kCbcTestAuthKey,
        .icv_bits = 128,
        .spi = 0x00008765,
        .sequence = 0x2,
        .esn = false,
        .iv = "f4e765244f6407adf13dc1380f673f37",
        .payload = "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d"
                   "02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
                   "2425262728292a2b2c2d2e2f3031323334353637",
        .pad_length = 10,
        .padding = "0102030405060708090a",
        .next_header = 4,
        .packet = "0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c44922"
                  "5e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad"
                  "7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2"
                  "201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d6f6caeb60b1cdfc8"
                  "35715d342eb67bf2",
        .icv_computed_locally = true,
        .outer_header = "4500008c090500004032f91ec0a87b03c0a87bc8",
    },
    // RFC 3602 §4, Case #8 (tunnel mode): RFC packet + our computed ICV.
    // AES-128-CBC, tunnel mode (inner IPv4 packet), next header 4, 10 bytes of padding.
    // The bytes from SPI through the CBC ciphertext are RFC 3602's; the last 16 bytes
    // are HMAC-SHA-256-128 under kCbcTestAuthKey over SPI || seq || IV || ciphertext,
    // computed by us (RFC 3602 has no ICV).
    // outer_header is the post-encryption IPv4 header the RFC prints.
    {
        .source = "RFC 3602 §4, Case #8 (tunnel mode)",
        .cipher = "cbc(aes)",
        .cipher_key = "0123456789abcdef0123456789abcdef",
        .auth = "hmac(sha256)",
        .auth_key = kCbcTestAuthKey,
        .icv_bits = 128,
        .spi = 0x00008765,
        .sequence = 0x5,
        .esn = false,
        .iv = "85d47224b5f3dd5d2101d4ea8dffab22",
        .payload = "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083d"
                   "a3de0300ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                   "ffffffff",
        .pad_length = 10,
        .padding = "0102030405060708090a",
        .next_header = 4,
        .packet = "000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8"
                  "047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3"
                  "a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc"
                  "6d17a0decbb13892e913fdc3e42c715d6e24b578cd1e8b6d",
        .icv_computed_locally = true,
        .outer_header = "4500007c090d00004032f926c0a87b03c0a87bc8",
    },
};

}  // namespace uipsec::test_vectors
