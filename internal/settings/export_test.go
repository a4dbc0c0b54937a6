package settings

// KeywordValueKeysForTest exposes the key=value tokenizer to the tests.
var KeywordValueKeysForTest = keywordValueKeys
