from rlhf_from_scratch.cli import main

if __name__ == "__main__":
    main()
