// A small driver of llama.cpp (an independent implementation) for Lantern's golden data:
// its tokenizer and its greedy choices, read by the golden scripts through a pipe.
//
//   llama-golden MODEL tokenize   stdin: one hex-encoded UTF-8 text per line
//                                 stdout: its token ids (special tokens parsed, no BOS added)
//   llama-golden MODEL greedy N   stdin: one prompt per line, token ids separated by spaces
//                                 stdout: the N tokens llama.cpp picks greedily after it
//   llama-golden MODEL logits     stdin: one sequence per line, token ids separated by spaces
//                                 stdout: for each position, a line of all the logits there
//
// The KV cache is f32 and flash attention off, so that f32 weights give f32 arithmetic.
//
// Built by scripts/build-llama-golden.sh against the llama.cpp of build-llama-quantize.sh.
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static std::string unhex(const std::string & h) {
    std::string s;
    for (size_t i = 0; i + 1 < h.size(); i += 2) {
        s.push_back((char) std::stoi(h.substr(i, 2), nullptr, 16));
    }
    return s;
}

static void tokenize(const llama_vocab * vocab) {
    std::string line;
    while (std::getline(std::cin, line)) {
        std::string text = unhex(line);
        std::vector<llama_token> ids(text.size() + 16);
        int n = llama_tokenize(vocab, text.data(), (int) text.size(), ids.data(), (int) ids.size(),
                               /*add_special*/ false, /*parse_special*/ true);
        if (n < 0) {
            fprintf(stderr, "tokenize failed\n");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            printf(i ? " %d" : "%d", ids[i]);
        }
        printf("\n");
    }
}

static llama_context * context(llama_model * model) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 1024;
    cp.n_batch = 1024;
    cp.n_ubatch = 1024;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    return llama_init_from_model(model, cp);
}

static std::vector<llama_token> read_ids(const std::string & line) {
    std::vector<llama_token> ids;
    std::istringstream in(line);
    for (int id; in >> id;) {
        ids.push_back(id);
    }
    return ids;
}

static void all_logits(llama_model * model) {
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    std::string line;
    while (std::getline(std::cin, line)) {
        std::vector<llama_token> ids = read_ids(line);
        llama_context * ctx = context(model);
        llama_batch batch = llama_batch_init((int) ids.size(), 0, 1);
        for (size_t i = 0; i < ids.size(); i++) {
            batch.token[i] = ids[i];
            batch.pos[i] = (llama_pos) i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = true;
        }
        batch.n_tokens = (int) ids.size();
        if (llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "decode failed\n");
            exit(1);
        }
        for (size_t i = 0; i < ids.size(); i++) {
            const float * logits = llama_get_logits_ith(ctx, (int) i);
            for (int v = 0; v < n_vocab; v++) {
                printf(v ? " %.7g" : "%.7g", logits[v]);
            }
            printf("\n");
        }
        fflush(stdout);
        llama_batch_free(batch);
        llama_free(ctx);
    }
}

static void greedy(llama_model * model, int n_new) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    std::string line;
    while (std::getline(std::cin, line)) {
        std::vector<llama_token> prompt = read_ids(line);
        llama_context * ctx = context(model);
        llama_batch batch = llama_batch_get_one(prompt.data(), (int) prompt.size());
        std::vector<llama_token> out;
        llama_token next = 0;
        for (int i = 0; i < n_new; i++) {
            if (llama_decode(ctx, batch) != 0) {
                fprintf(stderr, "decode failed\n");
                exit(1);
            }
            const float * logits = llama_get_logits_ith(ctx, -1);
            int best = 0;
            for (int v = 1; v < n_vocab; v++) {
                if (logits[v] > logits[best]) {
                    best = v;
                }
            }
            next = best;
            out.push_back(next);
            batch = llama_batch_get_one(&next, 1);
        }
        for (size_t i = 0; i < out.size(); i++) {
            printf(i ? " %d" : "%d", out[i]);
        }
        printf("\n");
        fflush(stdout);
        llama_free(ctx);
    }
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: llama-golden MODEL tokenize | greedy N | logits\n");
        return 2;
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = std::string(argv[2]) == "tokenize";
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    if (std::string(argv[2]) == "tokenize") {
        tokenize(llama_model_get_vocab(model));
    } else if (std::string(argv[2]) == "logits") {
        all_logits(model);
    } else {
        greedy(model, argc > 3 ? atoi(argv[3]) : 8);
    }
    llama_model_free(model);
    return 0;
}
